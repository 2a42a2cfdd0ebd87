package telegram_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/surface/telegram"
)

func TestCallbackDataRoundTrip(t *testing.T) {
	id := uuid.NewString()
	for _, choice := range []string{telegram.ChoiceApprove, telegram.ChoiceReject, telegram.ChoiceYes, telegram.ChoiceNo,
		telegram.ChoiceSkip, telegram.OptionChoice(0), telegram.OptionChoice(7), telegram.OptionChoice(29), telegram.OptionChoice(999)} {
		data := telegram.CallbackData(id, choice)
		if len(data) > telegram.MaxCallbackData {
			t.Fatalf("%q is %d bytes, over Telegram's %d", data, len(data), telegram.MaxCallbackData)
		}
		gotID, gotChoice, err := telegram.ParseCallbackData(data)
		if err != nil || gotID != id || gotChoice != choice {
			t.Fatalf("ParseCallbackData(%q) = %q, %q, %v", data, gotID, gotChoice, err)
		}
	}
}

func TestParseCallbackDataRejectsGarbage(t *testing.T) {
	id := "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88"
	for name, data := range map[string]string{
		"empty":               "",
		"no prefix":           id + ":a",
		"other prefix":        "x:" + id + ":a",
		"prefix only":         "h:",
		"no choice":           "h:" + id,
		"empty choice":        "h:" + id + ":",
		"short id":            "h:" + id[:35] + ":a",
		"long id":             "h:" + id + "0:a",
		"not a uuid":          "h:zf1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88:a",
		"uuid without dashes": "h:2f1c6a8e0d4b4c519b7e3c2a1d0e9f88:a",
		"unknown choice":      "h:" + id + ":x",
		"two choices":         "h:" + id + ":ar",
		"choice and more":     "h:" + id + ":a:b",
		"option, no index":    "h:" + id + ":o",
		"leading zero":        "h:" + id + ":o01",
		"negative index":      "h:" + id + ":o-1",
		"index too large":     "h:" + id + ":o1000",
		"index not decimal":   "h:" + id + ":o1e3",
		"full-width digit":    "h:" + id + ":o１",
		"over 64 bytes":       "h:" + id + ":o1" + strings.Repeat(" ", 30),
		"upper-case prefix":   "H:" + id + ":a",
	} {
		if gotID, choice, err := telegram.ParseCallbackData(data); err == nil || !errors.Is(err, telegram.ErrNotOurs) {
			t.Errorf("%s: ParseCallbackData(%q) = %q, %q, %v; want ErrNotOurs", name, data, gotID, choice, err)
		}
	}
}

// FuzzParseCallbackData: whatever it accepts, CallbackData makes again byte for byte, so
// no two byte strings decode to the same click.
func FuzzParseCallbackData(f *testing.F) {
	f.Add("h:2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88:a")
	f.Add("h:2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88:o12")
	f.Add("h:2F1C6A8E-0D4B-4C51-9B7E-3C2A1D0E9F88:o0")
	f.Add("h:{2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f8}:a")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		id, choice, err := telegram.ParseCallbackData(data)
		if err != nil {
			return
		}
		if again := telegram.CallbackData(id, choice); again != data {
			t.Fatalf("%q decoded to %q, %q, which encode to %q", data, id, choice, again)
		}
	})
}
