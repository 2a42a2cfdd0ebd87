package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/notify"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Kind is the assignee kind of this channel: "slack:#ops", "slack:@U0123ABCD".
const Kind = "slack"

// Config of the Slack channel.
type Config struct {
	// BotToken is the app's bot token, "xoxb-…" (HITL_SLACK_BOT_TOKEN). Required.
	BotToken string
	// APIURL is the base of the Web API (HITL_SLACK_API_URL), to aim at a fake Slack.
	// Default DefaultAPIURL.
	APIURL string
	// HTTPClient calls the API. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
}

// WithDefaults fills the unset fields.
func (c Config) WithDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	switch {
	case c.BotToken == "":
		errs = append(errs, errors.New("slack: the bot token is required (HITL_SLACK_BOT_TOKEN, xoxb-…)"))
	case !strings.HasPrefix(c.BotToken, "xoxb-") && !strings.HasPrefix(c.BotToken, "xoxe.xoxb-"):
		errs = append(errs, errors.New("slack: the bot token must be a bot token, starting xoxb- (HITL_SLACK_BOT_TOKEN)"))
	}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("slack: the API URL %q is not an absolute http(s) URL (HITL_SLACK_API_URL)", c.APIURL))
	}
	return errors.Join(errs...)
}

// Client returns a Web API client for the configuration (the interactions handler opens
// modals and posts ephemeral replies with it).
func (c Config) Client() *slackgo.Client {
	c = c.WithDefaults()
	return slackgo.New(c.BotToken, slackgo.OptionAPIURL(c.APIURL), slackgo.OptionHTTPClient(c.HTTPClient))
}

// Channel is the Slack channel. It is safe for concurrent use.
type Channel struct {
	api *slackgo.Client
}

// New checks the configuration.
func New(cfg Config) (*Channel, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Channel{api: cfg.Client()}, nil
}

// Kind is "slack".
func (c *Channel) Kind() string { return Kind }

// API is the Web API client the channel uses.
func (c *Channel) API() *slackgo.Client { return c.api }

var (
	// Channel names are lowercase letters, digits, - and _ (up to 80); channel ids are
	// C… or G… in capitals.
	channelTarget = regexp.MustCompile(`^#(?:[\p{Ll}\p{Lo}\p{Nd}_\-.]{1,80}|[CG][A-Z0-9]{2,20})$`)
	userTarget    = regexp.MustCompile(`^@[UW][A-Z0-9]{1,20}$`)
)

// CheckTarget reports, with a sentence, a target that is not "#channel" or "@USERID".
func CheckTarget(target string) error {
	switch {
	case channelTarget.MatchString(target), userTarget.MatchString(target):
		return nil
	case strings.HasPrefix(target, "@"):
		return fmt.Errorf("a Slack user target is the member id, like @U0123ABCD (in Slack: profile → ⋮ → Copy member ID), not %q", target)
	case strings.HasPrefix(target, "#"):
		return fmt.Errorf("%q is not a Slack channel name (lowercase letters, digits, - and _) or channel id", target)
	}
	return fmt.Errorf("a Slack target is #channel or @USERID, not %q", target)
}

// HasTarget reports whether target is of a form Slack can reach. Whether the channel
// exists is only known when posting (channel_not_found is a permanent failure then).
func (c *Channel) HasTarget(target string) bool { return CheckTarget(target) == nil }

// Ref is what Post returns and Update needs: where the message is.
type Ref struct {
	Channel string `json:"channel"` // channel id, C… or D…
	TS      string `json:"ts"`      // the message's timestamp, its id
}

// Notify posts the request; see Post.
func (c *Channel) Notify(ctx context.Context, d notify.Delivery) error {
	_, err := c.Post(ctx, d)
	return err
}

// Post posts the request to the target channel, or in the app's direct messages with the
// target user, and returns the message's Ref.
func (c *Channel) Post(ctx context.Context, d notify.Delivery) (json.RawMessage, error) {
	if err := CheckTarget(d.Target); err != nil {
		return nil, fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	channel := d.Target
	if user, ok := strings.CutPrefix(d.Target, "@"); ok {
		ch, _, _, err := c.api.OpenConversationContext(ctx, &slackgo.OpenConversationParameters{Users: []string{user}})
		if err != nil {
			return nil, classify("conversations.open", err)
		}
		if ch == nil || ch.ID == "" {
			return nil, errors.New("slack conversations.open: the answer names no channel")
		}
		channel = ch.ID
	} else if isChannelID(d.Target[1:]) {
		channel = d.Target[1:] // "#C0123ABCD": post by id
	}
	ch, ts, err := c.api.PostMessageContext(ctx, channel,
		slackgo.MsgOptionText(fallbackText(d.Request, false), false),
		slackgo.MsgOptionBlocks(RequestBlocks(d.Request)...))
	if err != nil {
		return nil, classify("chat.postMessage", err)
	}
	ref, _ := json.Marshal(Ref{Channel: ch, TS: ts})
	return ref, nil
}

func isChannelID(s string) bool {
	return len(s) >= 3 && (s[0] == 'C' || s[0] == 'G') && strings.ToUpper(s) == s
}

// Update edits the message Post sent to show how the request resolved, with no buttons.
func (c *Channel) Update(ctx context.Context, d notify.Delivery) error {
	var ref Ref
	if err := json.Unmarshal(d.Ref, &ref); err != nil || ref.Channel == "" || ref.TS == "" {
		return fmt.Errorf("%w: no Slack message reference for request %s (%s)", notify.ErrPermanent, d.Request.ID, d.Ref)
	}
	_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Channel, ref.TS,
		slackgo.MsgOptionText(fallbackText(d.Request, true), false),
		slackgo.MsgOptionBlocks(ResolvedBlocks(d.Request)...))
	if err != nil {
		return classify("chat.update", err)
	}
	return nil
}
