// Package telegram is the Telegram surface, both of its halves: the notifier's channel,
// which sends each request to a chat through a bot and edits that message when the
// request resolves, and the webhook handler that takes people's answers from the bot's
// buttons.
//
// Assignees name a chat: "telegram:123456789" is a person (their private chat with the
// bot, open once they have pressed Start), "telegram:-1001234567890" a group, supergroup
// or channel the bot is in, "telegram:@channelname" a public channel or supergroup.
// CheckTarget refuses anything else when the request is created.
//
// The notify half (Channel) posts with sendMessage, in the Bot API's HTML (every piece of
// the request escaped), with an inline keyboard: approvals, booleans and selects get one
// callback button per choice; the answers that need more than a click (a rejection that
// requires a comment, editing a proposed action, text, numbers, multiselects, forms, JSON,
// a select with more than MaxOptionButtons options) link to the request's web form, signed
// for the recipient (FormURL). A button's callback_data is "h:<request id>:<choice>"
// (CallbackData), so the handler needs no state. Post returns the chat and message id; on
// resolution, from any surface, Update edits the message with editMessageText to show the
// outcome, who decided and when, and removes the keyboard.
//
// Errors follow notify.Channel: 400, 401, 403 and 404 answers (chat not found, the bot
// blocked or not in the chat, a bad token) wrap notify.ErrPermanent, with a hint; flood
// control (429) is retried after Telegram's retry_after; 5xx answers and network errors
// are retried with backoff.
//
// The answer half (Handler) serves POST /telegram/webhook. Every update must carry the
// X-Telegram-Bot-Api-Secret-Token header that setWebhook was given (compared in constant
// time); anything else is 401 and changes nothing. A callback_query's person answers as
// "telegram:<user id>"; a group's or channel's chat is a second identity
// ("telegram:<chat id>", and "telegram:@<username>" for a public one), so a request
// assigned to a group may be answered by anyone in it. routing.Routes.Allows decides. The
// answer goes through store.Answerer, the one answer path every surface shares (from one
// function, Handler.answer), and the click is answered with
// answerCallbackQuery: "Recorded: Approved", "Already decided by telegram:42 (Approved).",
// "You are not an approver of this request. …". Handled and ignored updates alike get 200,
// so Telegram does not send them again.
//
// Bot tokens are secrets: they appear in no log and no error.
package telegram
