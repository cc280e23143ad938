package gatewaylog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Header is one HTTP header as logged.
type Header struct {
	Name, Value string
}

// Request is one request as a gateway logs it. Zero fields take the
// defaults their comments give.
type Request struct {
	Time time.Time
	// ID is pino-http's request id (req.id).
	ID int
	// Method is GET when empty; Proto HTTP/1.1.
	Method, URL, Proto string
	// Headers are the request headers in the order logged; the
	// Authorization, User-Agent, X-Forwarded-For, Host and X-Request-Id
	// headers are also where the text formats take their fields from.
	Headers []Header
	// RemoteAddress and RemotePort are the peer.
	RemoteAddress string
	RemotePort    int
	Status        int
	// ResponseHeaders are logged by pino-http under res.headers when set.
	ResponseHeaders []Header
	// ResponseTime is the time taken, in milliseconds.
	ResponseTime int
	// BodyBytes is the response size of nginx's and Envoy's lines.
	BodyBytes int
	// Hostname and PID are pino's (gateway and 1 when empty).
	Hostname string
	PID      int
	// Referer is nginx's $http_referer ("-" when empty).
	Referer string
	// Upstream is Envoy's %UPSTREAM_HOST% ("-" when empty).
	Upstream string
}

// Bearer returns the Authorization header value of token.
func Bearer(token string) Header { return Header{"authorization", "Bearer " + token} }

// Header returns the value of the first header named name (any case), ""
// when there is none.
func (r Request) Header(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Pino returns the request as nestjs-pino's pino-http logs it, one JSON
// object on one line (without the newline).
func (r Request) Pino() string { return string(r.AppendPino(nil)) }

// AppendPino appends Pino's line to dst.
func (r Request) AppendPino(dst []byte) []byte {
	dst = append(dst, `{"level":30,"time":`...)
	dst = strconv.AppendInt(dst, r.Time.UnixMilli(), 10)
	dst = append(dst, `,"pid":`...)
	dst = strconv.AppendInt(dst, int64(max(r.PID, 1)), 10)
	dst = append(dst, `,"hostname":`...)
	dst = AppendJSONString(dst, or(r.Hostname, "gateway"))
	dst = append(dst, `,"req":{"id":`...)
	dst = strconv.AppendInt(dst, int64(r.ID), 10)
	dst = append(dst, `,"method":`...)
	dst = AppendJSONString(dst, or(r.Method, "GET"))
	dst = append(dst, `,"url":`...)
	dst = AppendJSONString(dst, or(r.URL, "/"))
	dst = append(dst, `,"query":{},"params":{},"headers":`...)
	dst = appendHeaders(dst, r.Headers)
	dst = append(dst, `,"remoteAddress":`...)
	dst = AppendJSONString(dst, r.RemoteAddress)
	dst = append(dst, `,"remotePort":`...)
	dst = strconv.AppendInt(dst, int64(r.RemotePort), 10)
	dst = append(dst, `},"res":{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	if len(r.ResponseHeaders) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendHeaders(dst, r.ResponseHeaders)
	}
	dst = append(dst, `},"responseTime":`...)
	dst = strconv.AppendInt(dst, int64(r.ResponseTime), 10)
	return append(dst, `,"msg":"request completed"}`...)
}

func appendHeaders(dst []byte, hs []Header) []byte {
	dst = append(dst, '{')
	for i, h := range hs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, h.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, h.Value)
	}
	return append(dst, '}')
}

// Nginx returns the request in nginx's combined format with
// "$http_authorization" appended, as jwtwatch's docs configure it:
// $remote_addr - - [$time_local] "$request" $status $body_bytes_sent
// "$http_referer" "$http_user_agent" "$http_authorization". An absent
// header is "-".
func (r Request) Nginx() string { return string(r.AppendNginx(nil)) }

// AppendNginx appends Nginx's line to dst.
func (r Request) AppendNginx(dst []byte) []byte {
	dst = append(dst, or(r.RemoteAddress, "-")...)
	dst = append(dst, " - - ["...)
	dst = r.Time.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, "] \""...)
	dst = r.appendRequestLine(dst)
	dst = append(dst, "\" "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.BodyBytes), 10)
	for _, v := range []string{or(r.Referer, "-"), or(r.Header("user-agent"), "-"), or(r.Header("authorization"), "-")} {
		dst = append(dst, " \""...)
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	return dst
}

// Envoy returns the request in Envoy's default access-log format with
// "%REQ(AUTHORIZATION)%" appended: [%START_TIME%] "%REQ(:METHOD)%
// %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
// %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
// %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
// "%UPSTREAM_HOST%". An absent header is "-".
func (r Request) Envoy() string { return string(r.AppendEnvoy(nil)) }

// AppendEnvoy appends Envoy's line to dst.
func (r Request) AppendEnvoy(dst []byte) []byte {
	dst = append(dst, '[')
	dst = r.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, "] \""...)
	dst = r.appendRequestLine(dst)
	dst = append(dst, "\" "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, " - 0 "...)
	dst = strconv.AppendInt(dst, int64(r.BodyBytes), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.ResponseTime), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.ResponseTime), 10)
	for _, v := range []string{r.Header("x-forwarded-for"), r.Header("user-agent"), r.Header("x-request-id"), r.Header("host"), r.Upstream, r.Header("authorization")} {
		dst = append(dst, " \""...)
		dst = append(dst, or(v, "-")...)
		dst = append(dst, '"')
	}
	return dst
}

func (r Request) appendRequestLine(dst []byte) []byte {
	dst = append(dst, or(r.Method, "GET")...)
	dst = append(dst, ' ')
	dst = append(dst, or(r.URL, "/")...)
	dst = append(dst, ' ')
	return append(dst, or(r.Proto, "HTTP/1.1")...)
}

// AppendJSONString appends s as a JSON string, escaped exactly as
// encoding/json's Marshal escapes it (HTML-safe, invalid UTF-8 as
// U+FFFD), so that lines built here and by encoding/json are alike.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
