package telegram

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hitl-dev/hitl/notify"
)

// Channel is the notifier's Telegram channel. It is safe for concurrent use.
type Channel struct {
	bot *bot
}

// NewChannel checks the Bot API part of the configuration (BotToken, APIURL).
func NewChannel(cfg Config) (*Channel, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validateBot(); err != nil {
		return nil, err
	}
	return &Channel{bot: newBot(cfg)}, nil
}

// Kind is "telegram".
func (c *Channel) Kind() string { return Kind }

// Ref is what Post returns and Update needs: where the message is.
type Ref struct {
	ChatID    int64 `json:"chat_id"`
	MessageID int   `json:"message_id"`
}

// Notify sends the request; see Post.
func (c *Channel) Notify(ctx context.Context, d notify.Delivery) error {
	_, err := c.Post(ctx, d)
	return err
}

// Post sends the request to the target chat with sendMessage and returns the message's
// Ref. Its buttons answer in one click; the answers that need more (a comment, an edit, a
// text) link to the web form, bound to this recipient by d.RespondURL's token.
func (c *Channel) Post(ctx context.Context, d notify.Delivery) (json.RawMessage, error) {
	chatID, err := chatParam(d.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	text, kb := Question(d.Request, FormURL(d.RespondURL))
	var sent message
	err = c.bot.call(ctx, "sendMessage", sendMessage{ChatID: chatID, Text: text, ParseMode: "HTML",
		LinkPreview: &linkPreview{IsDisabled: true}, ReplyMarkup: kb}, &sent)
	if err != nil {
		return nil, classify(err)
	}
	if sent.MessageID == 0 {
		return nil, fmt.Errorf("telegram sendMessage: the answer names no message")
	}
	ref, _ := json.Marshal(Ref{ChatID: sent.Chat.ID, MessageID: sent.MessageID})
	return ref, nil
}

// Update edits the message Post sent, with editMessageText, to show how the request
// resolved, with the buttons removed. An edit Telegram finds already made ("message is
// not modified": a retried update) counts as done.
func (c *Channel) Update(ctx context.Context, d notify.Delivery) error {
	if !d.Request.Resolved() {
		return nil
	}
	var ref Ref
	if err := json.Unmarshal(d.Ref, &ref); err != nil || ref.ChatID == 0 || ref.MessageID == 0 {
		return fmt.Errorf("%w: no Telegram message reference for request %s (%s)", notify.ErrPermanent, d.Request.ID, d.Ref)
	}
	err := c.bot.call(ctx, "editMessageText", editMessageText{ChatID: ref.ChatID, MessageID: ref.MessageID,
		Text: Resolved(d.Request), ParseMode: "HTML", LinkPreview: &linkPreview{IsDisabled: true},
		ReplyMarkup: &Keyboard{InlineKeyboard: [][]Button{}}}, nil)
	if err != nil && !notModified(err) {
		return classify(err)
	}
	return nil
}
