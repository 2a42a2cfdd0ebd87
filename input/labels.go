package input

import (
	"cmp"
	"unicode/utf8"
)

// MaxLabelLength is how many characters of a button label every surface shows.
const MaxLabelLength = 60

// ApprovalLabels are the texts of an approval's two buttons, the same on every surface: the
// spec's Labels, else its options with ids "approve" and "reject", else its only two
// options (an older form), else "Approve" and "Reject". Each is at most MaxLabelLength
// characters.
func (s Spec) ApprovalLabels() (approve, reject string) {
	approve, reject = s.Labels.Approve, s.Labels.Reject
	for _, o := range s.Options {
		switch o.ID {
		case "approve":
			approve = cmp.Or(approve, o.Label)
		case "reject":
			reject = cmp.Or(reject, o.Label)
		}
	}
	if len(s.Options) == 2 && approve == "" && reject == "" {
		approve, reject = s.Options[0].Label, s.Options[1].Label
	}
	return cmp.Or(Truncate(approve, MaxLabelLength), "Approve"), cmp.Or(Truncate(reject, MaxLabelLength), "Reject")
}

// Truncate shortens s to at most n characters, ending in "…" when it cut: the one rule for
// every surface's limits (button labels, titles, previews).
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
