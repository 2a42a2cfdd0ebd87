package telegramfake

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entity is a formatted span of a message's text, as the Bot API returns it: offsets and
// lengths in UTF-16 code units.
type Entity struct {
	Type     string `json:"type"` // bold, italic, underline, strikethrough, spoiler, code, pre, text_link, blockquote, custom_emoji
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`      // text_link
	Language string `json:"language,omitempty"` // pre
}

// tags are the HTML tags of the Bot API's HTML parse mode, by the entity each makes.
var tags = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
}

type open struct {
	name   string
	entity Entity
	start  int // offset in UTF-16 units
}

// ParseHTML reads text in the Bot API's HTML style and returns the plain text and its
// entities, or the error Telegram gives ("Unsupported start tag \"div\" at byte offset 0").
//
// It follows the documented rules: only the supported tags, only the named entities &lt;
// &gt; &amp; &quot; and numeric ones, tags closed in order. It is stricter than Telegram
// in one way: an "&" that starts no entity is an error here (Telegram shows it as it is),
// so that text a sender forgot to escape is caught.
func ParseHTML(s string) (string, []Entity, error) {
	var text strings.Builder
	units := 0 // UTF-16 length of text so far
	var stack []open
	var entities []Entity
	write := func(str string) {
		text.WriteString(str)
		for _, r := range str {
			units += utf16.RuneLen(r)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if name, closing := strings.CutPrefix(tag, "/"); closing {
				name = strings.ToLower(strings.TrimSpace(name))
				if len(stack) == 0 {
					return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", i)
				}
				top := stack[len(stack)-1]
				if top.name != name {
					return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top.name, name)
				}
				stack = stack[:len(stack)-1]
				e := top.entity
				e.Offset, e.Length = top.start, units-top.start
				if e.Length > 0 && e.Type != "" {
					entities = append(entities, e)
				}
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				typ, ok := tags[name]
				if !ok || name == "" {
					return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				a, err := attributes(attrs)
				if err != nil {
					return "", nil, fmt.Errorf("%v in start tag at byte offset %d", err, i)
				}
				e := Entity{Type: typ}
				switch name {
				case "span":
					if a["class"] != "tg-spoiler" {
						return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", i)
					}
				case "a":
					u, err := url.Parse(a["href"])
					if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tg") {
						e.Type = "" // Telegram drops a link it cannot use and keeps the text
					}
					e.URL = a["href"]
				case "code":
					// <pre><code class="language-go">: the language of the pre.
					if n := len(stack); n > 0 && stack[n-1].name == "pre" {
						stack[n-1].entity.Language = strings.TrimPrefix(a["class"], "language-")
					}
				}
				stack = append(stack, open{name: name, entity: e, start: units})
			}
			i += end + 1
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 || end > 10 {
				return "", nil, fmt.Errorf("Character '&' is reserved and must be escaped as &amp; at byte offset %d", i)
			}
			r, ok := entity(s[i+1 : i+end])
			if !ok {
				return "", nil, fmt.Errorf("Unsupported HTML entity \"%s\" at byte offset %d", s[i:i+end+1], i)
			}
			write(string(r))
			i += end + 1
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", nil, fmt.Errorf("Strings must be encoded in UTF-8")
			}
			write(s[i : i+size])
			i += size
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].name)
	}
	return text.String(), entities, nil
}

// attributes parses name="value" pairs (values may use ' or " or no quotes).
func attributes(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	for s != "" {
		eq := strings.IndexAny(s, "= ")
		if eq < 0 {
			out[strings.ToLower(s)] = ""
			break
		}
		name := strings.ToLower(s[:eq])
		s = strings.TrimLeft(s[eq:], " ")
		if !strings.HasPrefix(s, "=") {
			out[name] = "" // a bare attribute: <blockquote expandable>
			continue
		}
		s = strings.TrimLeft(s[1:], " ")
		var val string
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return nil, fmt.Errorf("Unclosed attribute value")
			}
			val, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		decoded, err := decodeEntities(val)
		if err != nil {
			return nil, err
		}
		out[name] = decoded
		s = strings.TrimLeft(s, " ")
	}
	return out, nil
}

func decodeEntities(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '&' {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], ';')
		if end < 0 || end > 10 {
			return "", fmt.Errorf("Character '&' is reserved and must be escaped as &amp;")
		}
		r, ok := entity(s[i+1 : i+end])
		if !ok {
			return "", fmt.Errorf("Unsupported HTML entity \"%s\"", s[i:i+end+1])
		}
		b.WriteRune(r)
		i += end + 1
	}
	return b.String(), nil
}

// entity decodes the name between & and ;.
func entity(name string) (rune, bool) {
	switch name {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	}
	num, ok := strings.CutPrefix(name, "#")
	if !ok || num == "" {
		return 0, false
	}
	base := 10
	if h, ok := strings.CutPrefix(num, "x"); ok {
		num, base = h, 16
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// utf16Len is the length of s in UTF-16 code units, as Telegram counts a message's length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
