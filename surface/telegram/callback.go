package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

// Choices a callback button carries. An option of a select is OptionChoice(index).
const (
	ChoiceApprove = "a"
	ChoiceReject  = "r"
	ChoiceYes     = "y"
	ChoiceNo      = "n"
	ChoiceSkip    = "s"
	choiceOption  = "o"
)

// MaxCallbackData is Telegram's limit on a button's callback_data, in bytes.
const MaxCallbackData = 64

const callbackPrefix = "h:"

// maxOptionIndex bounds the option index a button may carry (a select with more options
// than buttons fit links to the web form).
const maxOptionIndex = 999

// OptionChoice is the choice of a select's option by its index in the spec.
func OptionChoice(i int) string { return choiceOption + strconv.Itoa(i) }

// CallbackData is a button's callback_data: "h:<request id>:<choice>", 43 bytes at most,
// within Telegram's 64. The request's options are fixed when it is created, so an index
// names the same option for the request's whole life; the handler needs no state.
func CallbackData(requestID, choice string) string {
	return callbackPrefix + requestID + ":" + choice
}

// ErrNotOurs is the error of callback data that CallbackData did not make.
var ErrNotOurs = errors.New("not hitl's callback data")

// ParseCallbackData splits data made by CallbackData. Anything else, including data that
// is nearly right (a short id, a choice with a leading zero, trailing bytes), is an error
// wrapping ErrNotOurs.
func ParseCallbackData(data string) (requestID, choice string, err error) {
	bad := func(why string) (string, string, error) { return "", "", fmt.Errorf("%w: %s", ErrNotOurs, why) }
	if len(data) > MaxCallbackData {
		return bad("longer than 64 bytes")
	}
	rest, ok := strings.CutPrefix(data, callbackPrefix)
	if !ok {
		return bad("no h: prefix")
	}
	if len(rest) < 38 || rest[36] != ':' {
		return bad("no request id")
	}
	requestID, choice = rest[:36], rest[37:]
	if !store.ValidID(requestID) {
		return bad("the request id is not a UUID")
	}
	switch choice {
	case ChoiceApprove, ChoiceReject, ChoiceYes, ChoiceNo, ChoiceSkip:
		return requestID, choice, nil
	}
	if _, ok := optionIndex(choice); !ok {
		return bad("unknown choice")
	}
	return requestID, choice, nil
}

// optionIndex reads "o<index>": a decimal without leading zeros, up to maxOptionIndex.
func optionIndex(choice string) (int, bool) {
	digits, ok := strings.CutPrefix(choice, choiceOption)
	if !ok || digits == "" || len(digits) > 3 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(digits)
	return i, err == nil && i <= maxOptionIndex
}

// answerData is the answer a choice gives to a request with spec s, or an error when the
// button does not fit it (an approval's choice on a boolean, an option that is not there).
// The answer still goes through store.CheckAnswer.
func answerData(s input.Spec, choice string) (json.RawMessage, error) {
	switch {
	case choice == ChoiceApprove && s.Type == input.Approval:
		return json.RawMessage(`{"approved":true}`), nil
	case choice == ChoiceReject && s.Type == input.Approval:
		return json.RawMessage(`{"approved":false}`), nil
	case choice == ChoiceYes && s.Type == input.Boolean:
		return json.RawMessage(`true`), nil
	case choice == ChoiceNo && s.Type == input.Boolean:
		return json.RawMessage(`false`), nil
	case choice == ChoiceSkip && s.Skippable:
		return json.RawMessage(`null`), nil
	}
	if i, ok := optionIndex(choice); ok && s.Type == input.Select {
		if i >= len(s.Options) {
			return nil, fmt.Errorf("option %d of %d", i, len(s.Options))
		}
		return json.Marshal(s.Options[i].ID)
	}
	return nil, fmt.Errorf("choice %q does not answer a %s request", choice, s.Type)
}
