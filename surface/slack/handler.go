package slack

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface"
)

// Path is where Slack's interactivity request URL points.
const Path = "/slack/interactions"

// HandlerConfig of the interactions handler.
type HandlerConfig struct {
	Store *store.Store // required
	// SigningSecret verifies that requests come from Slack (HITL_SLACK_SIGNING_SECRET).
	// Required.
	SigningSecret string
	// API opens modals and posts replies only the clicker sees (Config.Client, or
	// Channel.API). Required.
	API *slackgo.Client
	// Routes decides who may answer; it is called on every interaction, so it may be set
	// after NewHandler. Nil (or returning nil): the request's own assignees and approvers may,
	// without groups.
	Routes func() *routing.Routes
	// MaxBody caps request bodies. Default 1 MiB.
	MaxBody int64
	// Budget is the time one interaction's work may take before Slack gets its answer.
	// Default 2.5 s (Slack gives up after 3 s).
	Budget  time.Duration
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// Handler serves POST /slack/interactions. It is safe for concurrent use.
type Handler struct {
	answers *store.Answerer
	cfg     HandlerConfig
	log     *slog.Logger
	noGrps  *routing.Routes
}

// NewHandler checks the config.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("slack interactions: Store is required"))
	}
	if cfg.SigningSecret == "" {
		errs = append(errs, errors.New("slack interactions: the signing secret is required (HITL_SLACK_SIGNING_SECRET)"))
	}
	if cfg.API == nil {
		errs = append(errs, errors.New("slack interactions: API is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 2500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	plain, _ := routing.New(nil, nil, nil)
	h := &Handler{cfg: cfg, log: cfg.Logger.With(slog.String("surface", "slack")), noGrps: plain}
	h.answers = &store.Answerer{Store: cfg.Store, Routes: h.routes, Metrics: cfg.Metrics, Logger: h.log}
	return h, nil
}

// ServeHTTP verifies, parses and handles one interaction.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The signature headers and the timestamp's age are checked before the body is read.
	sv, err := slackgo.NewSecretsVerifier(r.Header, h.cfg.SigningSecret)
	if err != nil {
		h.log.Warn("slack request refused", slog.String("reason", refusal(err)), slog.String("remote", r.RemoteAddr))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, ok := surface.ReadBody(w, r, h.cfg.MaxBody)
	if !ok {
		return
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		h.log.Warn("slack request refused", slog.String("reason", "bad signature"), slog.String("remote", r.RemoteAddr))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	ic, err := parseInteraction(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Budget)
	defer cancel()
	switch ic.Type {
	case slackgo.InteractionTypeBlockActions:
		h.blockActions(ctx, ic)
		w.WriteHeader(http.StatusOK)
	case slackgo.InteractionTypeViewSubmission:
		if ic.View.CallbackID != callbackID {
			w.WriteHeader(http.StatusOK)
			return
		}
		if errs := h.viewSubmission(ctx, ic); len(errs) > 0 {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(slackgo.NewErrorsViewSubmissionResponse(errs))
			return
		}
		w.WriteHeader(http.StatusOK) // an empty 200 closes the modal
	default:
		w.WriteHeader(http.StatusOK) // view_closed, shortcuts, ...: nothing to do
	}
}

// parseInteraction reads a verified body: form-encoded, its payload field an interaction's
// JSON. The error is what the 400 says.
func parseInteraction(body []byte) (*slackgo.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return nil, errors.New("no payload")
	}
	var ic slackgo.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &ic); err != nil {
		return nil, errors.New("payload is not an interaction")
	}
	return &ic, nil
}

func refusal(err error) string {
	switch {
	case errors.Is(err, slackgo.ErrMissingHeaders):
		return "missing signature headers"
	case errors.Is(err, slackgo.ErrExpiredTimestamp):
		return "timestamp outside five minutes"
	}
	return "malformed signature or timestamp"
}

// identities of a Slack user clicking in a channel: the user, then the channel by name and
// by id (direct messages are no channel anyone is assigned by).
func identities(user, channelID, channelName string) []string {
	ids := []string{"slack:@" + user}
	if strings.HasPrefix(channelID, "C") || strings.HasPrefix(channelID, "G") {
		if channelName != "" && channelName != "privategroup" {
			ids = append(ids, "slack:#"+channelName)
		}
		ids = append(ids, "slack:#"+channelID)
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

// Replies people see.
const (
	notAllowed = "Thank you, but this request is for other people to answer. Your attempt was logged."
	goneText   = "This request no longer exists."
	// purgedText answers a request removed after its retention (store.ErrPurged).
	purgedText = "This request was decided a while ago and has since been removed, as finished requests are after their retention. Nothing was changed."
)

// AlreadyDecided is the reply to a click on a request that has resolved.
func AlreadyDecided(r *events.Request) string {
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
	if by == "" {
		by = "someone else"
	}
	return "Already decided by " + by + " (" + strings.TrimSpace(strings.SplitN(Outcome(r), " by ", 2)[0]) + ")."
}

func (h *Handler) blockActions(ctx context.Context, ic *slackgo.InteractionCallback) {
	if len(ic.ActionCallback.BlockActions) == 0 {
		return
	}
	act := ic.ActionCallback.BlockActions[0]
	rid, choice, ok := ParseActionID(act.ActionID)
	if !ok {
		return // not one of ours
	}
	log := h.log.With(slog.String("request_id", rid), slog.String("identity", "slack:@"+ic.User.ID))
	reply := func(text string) { h.ephemeral(ctx, log, ic.ResponseURL, ic.Channel.ID, ic.User.ID, text) }
	req, rev, err := h.cfg.Store.Request(ctx, rid)
	if errors.Is(err, store.ErrPurged) {
		reply(purgedText)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		reply(goneText)
		return
	}
	if err != nil {
		log.Error("slack click: read request", slog.Any("err", err))
		reply("Sorry, hitl could not read this request just now. Please try again.")
		return
	}
	if req.Resolved() {
		reply(AlreadyDecided(req))
		return
	}
	ids := identities(ic.User.ID, ic.Channel.ID, ic.Channel.Name)
	if !h.routes().Allows(req, ids...) {
		log.Warn("slack answer refused: not an assignee or approver of this request", slog.Any("identities", ids))
		reply(notAllowed)
		return
	}
	var data json.RawMessage
	switch choice {
	case ChoiceForm, ChoiceFormReject:
		view := modal(req, choice, meta{RequestID: req.ID, ChannelID: ic.Channel.ID, ChannelName: ic.Channel.Name, ResponseURL: ic.ResponseURL})
		if _, err := h.cfg.API.OpenViewContext(ctx, ic.TriggerID, view); err != nil {
			log.Error("slack: open the answer form", slog.Any("err", err))
			reply("Sorry, the form could not be opened (" + Escape(err.Error()) + "). Please try again.")
		}
		return
	case ChoiceApprove:
		data = json.RawMessage(`{"approved":true}`)
	case ChoiceReject:
		data = json.RawMessage(`{"approved":false}`)
	case ChoiceYes:
		data = json.RawMessage(`true`)
	case ChoiceNo:
		data = json.RawMessage(`false`)
	case ChoiceSkip:
		data = json.RawMessage(`null`)
	default:
		if !strings.HasPrefix(choice, ChoiceOption) {
			log.Warn("slack click: unknown choice", slog.String("choice", choice))
			return
		}
		data, _ = json.Marshal(act.Value)
	}
	a := store.Answer{Request: req, Rev: rev, RequestID: req.ID, Identities: ids, Data: data, Via: "slack"}
	if text := h.answer(ctx, log, a, nil); text != "" {
		reply(text)
	}
}

// answer passes a through the one answer path. It returns what to tell the person when the
// answer was not recorded ("" when it was); a validation error goes to onInvalid when set.
func (h *Handler) answer(ctx context.Context, log *slog.Logger, a store.Answer, onInvalid func(*input.ValidationError) string) string {
	_, err := h.answers.Answer(ctx, a)
	var re *store.ResolvedError
	var ve *input.ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return AlreadyDecided(re.Request)
	case errors.Is(err, store.ErrNotAllowed):
		return notAllowed
	case errors.Is(err, store.ErrPurged):
		return purgedText
	case errors.Is(err, store.ErrNotFound):
		return goneText
	case errors.Is(err, store.ErrTooLarge):
		return "That answer is too large to record; please shorten it."
	case errors.As(err, &ve):
		if onInvalid != nil {
			return onInvalid(ve)
		}
		return "That answer does not fit this request: " + Escape(describeErrors(ve))
	}
	log.Error("slack answer", slog.Any("err", err))
	return "Sorry, your answer could not be recorded just now. Please try again."
}

// viewSubmission handles the modal's submit: the errors to show, by input block id, or
// none when the answer was recorded.
func (h *Handler) viewSubmission(ctx context.Context, ic *slackgo.InteractionCallback) map[string]string {
	var m meta
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &m); err != nil || m.RequestID == "" {
		return nil // not a modal of ours: close it
	}
	log := h.log.With(slog.String("request_id", m.RequestID), slog.String("identity", "slack:@"+ic.User.ID))
	req, rev, err := h.cfg.Store.Request(ctx, m.RequestID)
	blocks := map[string]bool{}
	if req != nil {
		for _, b := range modal(req, "", m).Blocks.BlockSet {
			if in, ok := b.(*slackgo.InputBlock); ok {
				blocks[in.BlockID] = true
			}
		}
	}
	firstBlock := func(msg string) map[string]string {
		if req != nil {
			for _, id := range inputBlockOrder(req.Input) {
				if blocks[id] {
					return map[string]string{id: msg}
				}
			}
		}
		return map[string]string{blockAnswer: msg}
	}
	switch {
	case errors.Is(err, store.ErrPurged):
		return firstBlock(purgedText)
	case errors.Is(err, store.ErrNotFound):
		return firstBlock(goneText)
	case err != nil:
		log.Error("slack submission: read request", slog.Any("err", err))
		return firstBlock("Sorry, hitl could not read this request just now. Please submit again.")
	case req.Resolved():
		return firstBlock(AlreadyDecided(req))
	}
	ids := identities(ic.User.ID, m.ChannelID, m.ChannelName)
	if !h.routes().Allows(req, ids...) {
		log.Warn("slack answer refused: not an assignee or approver of this request", slog.Any("identities", ids))
		return firstBlock(notAllowed)
	}
	var st state
	if ic.View.State != nil {
		st = ic.View.State.Values
	}
	sub := readSubmission(req.Input, st)
	if len(sub.errors) > 0 {
		return sub.errors
	}
	var invalid map[string]string
	a := store.Answer{Request: req, Rev: rev, RequestID: req.ID, Identities: ids, Data: sub.answer, Via: "slack"}
	text := h.answer(ctx, log, a, func(ve *input.ValidationError) string {
		invalid = fieldErrors(req.Input, sub, ve, blocks)
		return "invalid"
	})
	switch {
	case invalid != nil:
		return invalid
	case text != "":
		return firstBlock(text)
	}
	return nil
}

// ephemeral replies to one person: through the interaction's response_url, else with
// chat.postEphemeral. A failure is logged; the person can click again.
func (h *Handler) ephemeral(ctx context.Context, log *slog.Logger, responseURL, channel, user, text string) {
	var err error
	if responseURL != "" {
		_, _, err = h.cfg.API.PostMessageContext(ctx, "",
			slackgo.MsgOptionResponseURL(responseURL, slackgo.ResponseTypeEphemeral),
			slackgo.MsgOptionText(text, false))
	} else if channel != "" {
		_, err = h.cfg.API.PostEphemeralContext(ctx, channel, user, slackgo.MsgOptionText(text, false))
	}
	if err != nil {
		log.Warn("slack: reply to the person failed", slog.Any("err", err))
	}
}
