package telegram

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// A chat id: a person's (positive; their private chat with the bot), a group's
	// (negative) or a supergroup's or channel's (-100…). At most int64.
	chatIDTarget = regexp.MustCompile(`^-?[1-9][0-9]{0,18}$`)
	// A public channel's or supergroup's username: 5 to 32 letters, digits and _, starting
	// with a letter, not ending with _.
	usernameTarget = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$`)
)

// CheckTarget reports, with a sentence, a target that is not a chat id or a channel's
// @username.
func CheckTarget(target string) error {
	_, err := chatParam(target)
	return err
}

// chatParam is the Bot API's chat_id for target: an integer, or "@username".
func chatParam(target string) (any, error) {
	switch {
	case chatIDTarget.MatchString(target):
		id, err := strconv.ParseInt(target, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the Telegram chat id %s is out of range", target)
		}
		return id, nil
	case usernameTarget.MatchString(target):
		return target, nil
	case strings.HasPrefix(target, "@"):
		return nil, fmt.Errorf("%q is not a Telegram username (5 to 32 letters, digits and _); a person is reached by their numeric id, a public channel or group by its @username", target)
	}
	return nil, fmt.Errorf("a Telegram target is a numeric chat id (telegram:123456789 for a person who started the bot, telegram:-1001234567890 for a group or channel) or a public channel's @username, not %q", target)
}

// HasTarget reports whether target is of a form Telegram can reach. Whether the chat
// exists, and the bot may write there, is only known when sending (a permanent failure
// then).
func (c *Channel) HasTarget(target string) bool { return CheckTarget(target) == nil }
