package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface"
)

// Handler serves the bot's webhook (POST /telegram/webhook). It is safe for concurrent use.
type Handler struct {
	answers *store.Answerer
	cfg     Config
	secret  [sha256.Size]byte // of the secret token: compared whatever the length of what comes
	bot     *bot
	log     *slog.Logger
	noGrps  *routing.Routes
}

// NewHandler checks the whole configuration.
func NewHandler(cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	plain, _ := routing.New(nil, nil, nil)
	h := &Handler{cfg: cfg, secret: sha256.Sum256([]byte(cfg.SecretToken)), bot: newBot(cfg), log: cfg.Logger.With(slog.String("surface", Kind)), noGrps: plain}
	h.answers = &store.Answerer{Store: cfg.Store, Routes: h.routes, Metrics: cfg.Metrics, Logger: h.log}
	return h, nil
}

// ServeHTTP checks and handles one update. The secret header is checked before the body
// is read: missing or wrong, 401 and nothing else happens. A body over MaxBody is 413,
// one that is not a Telegram update 400. Every update that passes those is answered 200,
// whether it was a click hitl handled or something it ignores (a message, a member
// joining): Telegram sends an update again until its webhook call succeeds.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretHeader)
	if sum := sha256.Sum256([]byte(got)); got == "" || subtle.ConstantTimeCompare(sum[:], h.secret[:]) != 1 {
		reason := "wrong secret token"
		if got == "" {
			reason = "no secret token"
		}
		h.log.Warn("telegram update refused", slog.String("reason", reason), slog.String("remote", r.RemoteAddr))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, ok := surface.ReadBody(w, r, h.cfg.MaxBody)
	if !ok {
		return
	}
	var u update
	if err := json.Unmarshal(body, &u); err != nil || u.UpdateID == nil {
		http.Error(w, "not a Telegram update", http.StatusBadRequest)
		return
	}
	q := u.CallbackQuery
	if q == nil {
		w.WriteHeader(http.StatusOK) // messages, edits, members: nothing for hitl
		return
	}
	if q.ID == "" || q.From == nil || q.From.ID == 0 {
		http.Error(w, "callback_query without id or from", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Budget)
	defer cancel()
	h.click(ctx, q)
	w.WriteHeader(http.StatusOK)
}

// identities of a person clicking in a chat: the person, then the chat when it is a group
// or channel, by id and by @username (a private chat's id is the person's own).
func identities(q *callbackQuery) []string {
	ids := []string{Kind + ":" + strconv.FormatInt(q.From.ID, 10)}
	if m := q.Message; m != nil && m.Chat.ID != 0 && m.Chat.ID != q.From.ID && m.Chat.Type != "private" {
		ids = append(ids, Kind+":"+strconv.FormatInt(m.Chat.ID, 10))
		if m.Chat.Username != "" {
			ids = append(ids, Kind+":@"+m.Chat.Username)
		}
	}
	return ids
}

func (h *Handler) routes() *routing.Routes {
	if h.cfg.Routes != nil {
		if rt := h.cfg.Routes(); rt != nil {
			return rt
		}
	}
	return h.noGrps
}

// click handles one button press and answers its callback query with a toast.
func (h *Handler) click(ctx context.Context, q *callbackQuery) {
	log := h.log.With(slog.Int64("telegram_user", q.From.ID))
	rid, choice, err := ParseCallbackData(q.Data)
	if err != nil {
		log.Warn("telegram click ignored", slog.String("reason", err.Error()), slog.Int("data_bytes", len(q.Data)))
		h.toast(ctx, log, q.ID, reply{text: "This button is not one of hitl's."})
		return
	}
	ids := identities(q)
	h.toast(ctx, log, q.ID, h.answer(ctx, log.With(slog.String("request_id", rid)), attempt{
		RequestID: rid, Choice: choice, Responder: ids[0], Identities: ids}))
}

// attempt is one person's try at answering a request.
type attempt struct {
	RequestID  string
	Choice     string   // a button's choice (ParseCallbackData)
	Responder  string   // recorded with the answer: "telegram:<user id>"
	Identities []string // everyone the person answers as, for routing.Routes.Allows
}

// reply is what the person is told.
type reply struct {
	text  string
	alert bool // a dialog to dismiss rather than a passing notice
}

// Replies people see.
const (
	notAllowed = "You are not an approver of this request. Your attempt was logged."
	goneText   = "This request no longer exists."
	// purgedText answers a request removed after its retention (store.ErrPurged).
	purgedText = "This request was decided a while ago and has since been removed, as finished requests are after their retention. Nothing was changed."
)

// AlreadyDecided is the reply to a click on a request that has resolved; me is the
// identity of the person clicking.
func AlreadyDecided(r *events.Request, me string) string {
	by := Responder(r)
	switch r.Status {
	case events.StatusTimedOut:
		return "Already decided: this request timed out."
	case events.StatusCancelled:
		if by != "" {
			return "Already decided: this request was cancelled by " + by + "."
		}
		return "Already decided: this request was cancelled."
	}
	if me != "" && strings.EqualFold(by, me) {
		return "You already answered this request: " + Summary(r) + "."
	}
	if by == "" {
		by = "someone else"
	}
	return "Already decided by " + by + " (" + Summary(r) + ")."
}

// answer handles one attempt: read the request, turn the choice into an answer, and hand it
// to the one answer path (store.Answerer: resolved?, who may answer, validation, the gate,
// finishing, the metric and the log). It returns what to tell the person. The message itself is edited by
// the notifier when the request resolves (Channel.Update), whichever surface answered.
func (h *Handler) answer(ctx context.Context, log *slog.Logger, a attempt) reply {
	req, rev, err := h.cfg.Store.Request(ctx, a.RequestID)
	switch {
	case errors.Is(err, store.ErrPurged):
		return reply{text: purgedText}
	case errors.Is(err, store.ErrNotFound):
		return reply{text: goneText}
	case err != nil:
		log.Error("telegram click: read request", slog.Any("err", err))
		return reply{text: "Sorry, hitl could not read this request just now. Please try again.", alert: true}
	case req.Resolved():
		return reply{text: AlreadyDecided(req, a.Responder)}
	}
	data, err := answerData(req.Input, a.Choice)
	if err != nil {
		log.Warn("telegram click: the button does not fit the request", slog.Any("err", err))
		return reply{text: "This button does not answer this request.", alert: true}
	}
	resolved, err := h.answers.Answer(ctx, store.Answer{Request: req, Rev: rev, RequestID: req.ID, Identities: a.Identities,
		Responder: a.Responder, Data: data, Via: Kind})
	var re *store.ResolvedError
	var ve *input.ValidationError
	switch {
	case err == nil:
		return reply{text: "Recorded: " + Summary(resolved)}
	case errors.As(err, &re):
		return reply{text: AlreadyDecided(re.Request, a.Responder)}
	case errors.Is(err, store.ErrNotAllowed):
		return reply{text: notAllowed, alert: true}
	case errors.Is(err, store.ErrPurged):
		return reply{text: purgedText}
	case errors.Is(err, store.ErrNotFound):
		return reply{text: goneText}
	case errors.As(err, &ve):
		return reply{text: "That answer does not fit this request: " + describe(ve), alert: true}
	}
	log.Error("telegram answer", slog.Any("err", err))
	return reply{text: "Sorry, your answer could not be recorded just now. Please try again.", alert: true}
}

func describe(ve *input.ValidationError) string {
	var parts []string
	for _, f := range ve.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s", f.Path, f.Message))
	}
	return strings.Join(parts, "; ")
}

// toast answers the callback query, which also stops the button's spinner. It gets a few
// seconds of its own, so that an answer recorded late in the budget is still confirmed. A
// failure is logged; the person can click again.
func (h *Handler) toast(ctx context.Context, log *slog.Logger, queryID string, r reply) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	text := r.text
	if n := []rune(text); len(n) > MaxToast {
		text = string(n[:MaxToast-1]) + "…"
	}
	if err := h.bot.call(ctx, "answerCallbackQuery", answerCallbackQuery{CallbackQueryID: queryID, Text: text, ShowAlert: r.alert}, nil); err != nil {
		log.Warn("telegram: answering the click failed", slog.Any("err", err))
	}
}
