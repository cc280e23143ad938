package parse

import (
	"bytes"
	"unicode/utf8"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// MaxDetailBytes bounds each Details field: a hostile client cannot make a
// report (or a top-N table keyed by these values) grow with its header size.
const MaxDetailBytes = 256

// Redacted replaces a Details value that itself carries a bearer credential
// or a JWT, so that Details never hands out a token.
const Redacted = "[redacted]"

// Details is where a logged request came from, as far as its line says.
// Empty fields mean the log does not have them.
type Details struct {
	// Client is the first X-Forwarded-For entry when the line has one, else
	// the peer address. An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is
	// given as IPv4.
	Client string
	// UserAgent is the User-Agent header.
	UserAgent string
}

// Details extracts the client address and user agent of a line: from
// pino-http and similar JSON lines (req.remoteAddress, remote_addr,
// remote_ip, client_ip, client.ip; user-agent, user_agent, http_user_agent;
// x-forwarded-for at any depth, header lists taken by their first element),
// nginx's combined format ($remote_addr first, the user agent the quoted
// field after the referer), and Envoy's default format (the quoted
// %REQ(X-FORWARDED-FOR)% and %REQ(USER-AGENT)% fields after the response
// flags and sizes). The regex format takes optional named groups client and
// user_agent. A Kubernetes CRI prefix is stripped first, and a Docker
// json-file "log" string is looked into.
//
// It is meant for the few lines a report needs it for, not the hot path: it
// walks the line again and allocates its results. Values are cut to
// MaxDetailBytes; a value that carries a token is Redacted.
func (p *Parser) Details(line []byte) Details {
	var d Details
	if p.format == FormatRegex {
		d = p.regexDetails(bytes.TrimRight(line, "\r\n"))
	} else {
		line = trimSpace(line)
		if rest, _, ok := stripCRI(line); ok {
			line = rest
		}
		d = autoDetails(line, 0)
	}
	return Details{Client: clean(normalizeAddr(d.Client)), UserAgent: clean(d.UserAgent)}
}

// autoDetails recognises the line's layout; depth bounds Docker json-file
// lines wrapping lines.
func autoDetails(line []byte, depth int) Details {
	if len(line) > 0 && line[0] == '{' {
		w := detailsWalker{b: line, plain: jsonlex.Plain(line)}
		if w.run() {
			d := Details{Client: string(w.best()), UserAgent: string(w.ua)}
			if d == (Details{}) && w.log != nil && depth == 0 {
				return autoDetails(trimSpace(w.log), depth+1)
			}
			return d
		}
	}
	return textDetails(line)
}

// DetailsString is Details for a line held in a string, without copying it.
func (p *Parser) DetailsString(line string) Details {
	// Details only reads the bytes, and copies what it keeps.
	return p.Details(unsafe.Slice(unsafe.StringData(line), len(line)))
}

func (p *Parser) regexDetails(line []byte) Details {
	m := p.re.FindSubmatchIndex(line)
	if m == nil {
		return Details{}
	}
	group := func(name string) string {
		i := p.re.SubexpIndex(name)
		if i < 0 || m[2*i] < 0 {
			return ""
		}
		return string(dash(trimSpace(line[m[2*i]:m[2*i+1]])))
	}
	return Details{Client: string(firstForwarded([]byte(group("client")))), UserAgent: group("user_agent")}
}

// textDetails reads nginx and Envoy access-log lines: the quoted fields
// after the quoted request line are, in nginx's combined format, the
// referer then the user agent, and in Envoy's default format (which starts
// with its [start time]) X-Forwarded-For then the user agent.
func textDetails(line []byte) Details {
	_, end := textTime(line)
	if end == 0 {
		return Details{}
	}
	envoy := line[0] == '['
	var fields [2][]byte
	n := 0
	from, sawRequest := end, false
	for n < len(fields) {
		q := bytes.IndexByte(line[from:], '"')
		if q < 0 {
			break
		}
		start := from + q + 1
		e := bytes.IndexByte(line[start:], '"')
		if e < 0 {
			break
		}
		v := line[start : start+e]
		from = start + e + 1
		if !sawRequest {
			if !bytes.Contains(v, []byte("HTTP/")) {
				return Details{} // not an access-log line
			}
			sawRequest = true
			continue
		}
		fields[n] = dash(v)
		n++
	}
	if !sawRequest {
		return Details{}
	}
	d := Details{UserAgent: string(fields[1])}
	if envoy {
		d.Client = string(firstForwarded(fields[0]))
	} else if sp := bytes.IndexByte(line, ' '); sp > 0 {
		d.Client = string(dash(line[:sp]))
	}
	return d
}

// Where a JSON value goes, for the details walker.
const (
	detailNone = iota
	detailUA
	detailForwarded
	detailClientIP // Caddy's client_ip: the peer after trusted proxies
	detailPeer
	detailLog
	detailECS  // ECS's top-level client or source object, whose ip is the peer
	detailPath // a request path or URL: pino's req.url, Caddy's request.uri, Envoy's path
	detailReq  // a top-level req or request: an object holding the path, or nginx's request line
	detailURL  // ECS's top-level url: an object holding path or original, or a URL
)

// detailsWalker walks a JSON line with the lexer the token finder uses,
// keeping the first value of each kind of detail.
type detailsWalker struct {
	b     []byte
	plain bool // jsonlex.Plain vouched for b: strings end at their next quote

	ua, forwarded, clientIP, peer, log, path []byte
}

// best is the client address: X-Forwarded-For's first entry, else Caddy's
// client_ip, else the peer address.
func (w *detailsWalker) best() []byte {
	switch {
	case len(w.forwarded) > 0:
		return w.forwarded
	case len(w.clientIP) > 0:
		return w.clientIP
	}
	return w.peer
}

func (w *detailsWalker) run() bool {
	i := jsonlex.SkipSpace(w.b, 0)
	if i >= len(w.b) || w.b[i] != '{' {
		return false
	}
	i = w.object(i, 1, detailNone)
	return i >= 0 && jsonlex.SkipSpace(w.b, i) == len(w.b)
}

// str consumes the string at b[i], as jsonWalker.str does.
func (w *detailsWalker) str(i int) (int, bool) {
	if w.plain {
		return jsonlex.QuoteEnd(w.b, i), false
	}
	return jsonlex.String(w.b, i)
}

// object consumes the object at b[i]; parent is what the object's own key
// named, so that ECS's {"user_agent":{"original":...}} and
// {"client":{"ip":...}} count.
func (w *detailsWalker) object(i, depth, parent int) int {
	if depth > maxDepth {
		return -1
	}
	b := w.b
	i = jsonlex.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, esc := w.str(i)
		if end < 0 {
			return -1
		}
		key := b[i+1 : end-1]
		if esc {
			var buf [64]byte
			key = jsonlex.Unescape(buf[:0], key)
		}
		i = jsonlex.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = w.value(i+1, depth+1, detailKind(key, parent, depth)); i < 0 {
			return -1
		}
		i = jsonlex.SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = jsonlex.SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// detailKind says what the value of key holds. The length decides which
// names can match, so most keys cost one comparison.
func detailKind(key []byte, parent, depth int) int {
	switch len(key) {
	case len("ip"):
		if parent == detailECS && string(key) == "ip" {
			return detailPeer
		}
	case len("log"): // and "req", "url", "uri"
		switch {
		case depth == 1 && string(key) == "log":
			return detailLog
		case depth == 1 && string(key) == "req":
			return detailReq
		case parent == detailReq && (string(key) == "url" || string(key) == "uri"):
			return detailPath
		case depth == 1 && string(key) == "url":
			return detailURL
		case depth == 1 && string(key) == "uri":
			return detailPath
		}
	case len("path"):
		if string(key) == "path" && (depth == 1 || parent == detailReq || parent == detailURL) {
			return detailPath
		}
	case len("request"):
		if depth == 1 && string(key) == "request" {
			return detailReq
		}
	case len("client"): // and "source"
		if depth == 1 && (string(key) == "client" || string(key) == "source") {
			return detailECS
		}
	case len("original"):
		switch {
		case parent == detailUA && string(key) == "original":
			return detailUA
		case parent == detailURL && string(key) == "original":
			return detailPath
		}
	case len("useragent"): // and "client_ip", "remote_ip"
		switch {
		case equalFold(key, "useragent"):
			return detailUA
		case equalFold(key, "client_ip"):
			return detailClientIP
		case equalFold(key, "remote_ip"):
			return detailPeer
		}
	case len("user-agent"): // and "user_agent"
		if equalFold(key, "user-agent") || equalFold(key, "user_agent") {
			return detailUA
		}
	case len("remote_addr"): // and "request_uri"
		switch {
		case equalFold(key, "remote_addr"):
			return detailPeer
		case depth == 1 && string(key) == "request_uri":
			return detailPath
		}
	case len("remoteaddress"):
		if equalFold(key, "remoteaddress") {
			return detailPeer
		}
	case len("http_user_agent"): // and "x-forwarded-for"
		switch {
		case equalFold(key, "http_user_agent"):
			return detailUA
		case equalFold(key, "x-forwarded-for"):
			return detailForwarded
		}
	case len("http_x_forwarded_for"):
		if equalFold(key, "http_x_forwarded_for") {
			return detailForwarded
		}
	}
	return detailNone
}

// value consumes any value at b[i], keeping a string (or a list's first
// string) of the given kind.
func (w *detailsWalker) value(i, depth, kind int) int {
	b := w.b
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '{':
		return w.object(i, depth, kind)
	case c == '[':
		return w.array(i, depth, kind)
	case c == '"':
		end, esc := w.str(i)
		if end < 0 {
			return -1
		}
		if kind != detailNone {
			s := b[i+1 : end-1]
			if esc {
				s = jsonlex.Unescape(nil, s)
			}
			w.keep(kind, s)
		}
		return end
	case c == '-' || isDigit(c):
		return jsonlex.Number(b, i)
	}
	return jsonlex.Literal(b, i)
}

// array consumes the array at b[i]; only its first element can be a
// detail, as in headers logged as lists (Go's http.Header, Caddy).
func (w *detailsWalker) array(i, depth, kind int) int {
	if depth > maxDepth {
		return -1
	}
	b := w.b
	i = jsonlex.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	if kind == detailLog {
		kind = detailNone
	}
	for end := false; ; {
		if i = w.value(i, depth+1, kind); i < 0 {
			return -1
		}
		kind = detailNone
		if i, end = jsonlex.NextElem(b, i); i < 0 || end {
			return i
		}
	}
}

// keep records s as a detail of kind unless one was found before.
func (w *detailsWalker) keep(kind int, s []byte) {
	s = dash(trimSpace(s))
	if len(s) == 0 {
		return
	}
	var dst *[]byte
	switch kind {
	case detailUA:
		dst = &w.ua
	case detailForwarded:
		dst, s = &w.forwarded, firstForwarded(s)
	case detailClientIP:
		dst = &w.clientIP
	case detailPeer:
		dst = &w.peer
	case detailLog:
		dst = &w.log
	case detailPath, detailURL:
		dst = &w.path
	case detailReq:
		dst, s = &w.path, requestTarget(s)
	default:
		return
	}
	if *dst == nil && len(s) > 0 {
		*dst = s
	}
}

// firstForwarded returns the first entry of an X-Forwarded-For value: the
// original client, as the first proxy saw it.
func firstForwarded(v []byte) []byte {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return dash(trimSpace(v))
}

// dash maps "-", how nginx and Envoy log an absent value, to nothing.
func dash(v []byte) []byte {
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	return v
}

// normalizeAddr turns an IPv4-mapped IPv6 address into IPv4, so that the
// same client is one row whether Node or nginx logged it.
func normalizeAddr(s string) string {
	const mapped = "::ffff:"
	if len(s) > len(mapped) && hasFoldPrefix([]byte(s), mapped) && isIPv4(s[len(mapped):]) {
		return s[len(mapped):]
	}
	return s
}

// isIPv4 reports whether s looks like a dotted-quad address.
func isIPv4(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			dots++
		case !isDigit(s[i]):
			return false
		}
	}
	return dots == 3
}

// clean bounds a detail and keeps tokens out of it.
func clean(s string) string {
	if s == "" {
		return ""
	}
	b := []byte(s)
	if _, ok := findBearer(b); ok {
		return Redacted
	}
	if _, ok := findRawJWT(b); ok {
		return Redacted
	}
	if len(s) <= MaxDetailBytes {
		return s
	}
	cut := MaxDetailBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Path returns the path of a line's request, without query string or
// fragment, "" when the line has none: from JSON lines pino's req.url,
// Caddy's request.uri, request.path, a top-level path, uri or request_uri
// (Envoy, nginx escape=json), nginx's request line as a top-level request
// string, ECS's url.path or url.original; from text lines the target of the
// quoted request line (nginx's $request, Envoy's default format); in the
// regex format the named group path. An absolute URL gives its path. Like
// Details it is a second look at a line, for the few that need it (requests
// the gateway's verdict is compared on, with --gateway.public-paths); it is
// cut to MaxDetailBytes, and Redacted when it carries a token.
func (p *Parser) Path(line []byte) string {
	var path []byte
	if p.format == FormatRegex {
		line = bytes.TrimRight(line, "\r\n")
		if m := p.re.FindSubmatchIndex(line); m != nil {
			if i := p.re.SubexpIndex("path"); i >= 0 && m[2*i] >= 0 {
				path = line[m[2*i]:m[2*i+1]]
			}
		}
	} else {
		line = trimSpace(line)
		if rest, _, ok := stripCRI(line); ok {
			line = rest
		}
		path = autoPath(line, 0)
	}
	return clean(string(pathOf(dash(trimSpace(path)))))
}

// autoPath finds the path of a JSON or text line; depth bounds Docker
// json-file lines wrapping lines.
func autoPath(line []byte, depth int) []byte {
	if len(line) > 0 && line[0] == '{' {
		w := detailsWalker{b: line, plain: jsonlex.Plain(line)}
		if w.run() {
			if w.path == nil && w.log != nil && depth == 0 {
				return autoPath(trimSpace(w.log), depth+1)
			}
			return w.path
		}
	}
	// The first quoted field holding "HTTP/" after the line's time is the
	// request line of nginx's and Envoy's formats.
	_, end := textTime(line)
	for from := end; ; {
		q := bytes.IndexByte(line[from:], '"')
		if q < 0 {
			return nil
		}
		start := from + q + 1
		e := bytes.IndexByte(line[start:], '"')
		if e < 0 {
			return nil
		}
		if v := line[start : start+e]; bytes.Contains(v, []byte("HTTP/")) {
			return requestTarget(v)
		}
		from = start + e + 1
	}
}

// requestTarget returns the target of a request line ("GET /x HTTP/1.1"),
// nil when it is not one.
func requestTarget(line []byte) []byte {
	fields := bytes.Fields(line)
	if len(fields) < 2 {
		return nil
	}
	return fields[1]
}

// pathOf cuts a request target to its path: no query string or fragment,
// and for an absolute URL (http://host/x) only /x.
func pathOf(target []byte) []byte {
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if i := bytes.Index(target, []byte("://")); i > 0 && !bytes.ContainsRune(target[:i], '/') {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return []byte("/")
	}
	return target
}
