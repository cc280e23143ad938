package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

var (
	errNotRuleFile = errors.New("not a Prometheus rule file")
	errDuration    = errors.New("duration cannot be written in a rule file")
)

// WithFor returns a copy of the Prometheus rule file rules in which every
// alerting rule's `for` is d, so that a test can see alerts fire without
// waiting out the production durations.
//
// The file is edited as a YAML node tree, so recording rules, expressions,
// labels, annotations and comments are kept; only the layout may change. An
// alert without a `for` gets one. d must be a whole number of milliseconds,
// the precision of Prometheus durations, and not negative.
func WithFor(rules []byte, d time.Duration) ([]byte, error) {
	if d < 0 || d%time.Millisecond != 0 {
		return nil, fmt.Errorf("for %v: %w", d, errDuration)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		return nil, fmt.Errorf("parsing rule file: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the top level is not a mapping", errNotRuleFile)
	}
	groups := mappingValue(doc.Content[0], "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%w: no list of groups", errNotRuleFile)
	}
	value := model.Duration(d).String()
	for i, g := range groups.Content {
		if g.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: group %d is not a mapping", errNotRuleFile, i)
		}
		list := mappingValue(g, "rules")
		if list == nil {
			continue
		}
		if list.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%w: rules of group %d are not a list", errNotRuleFile, i)
		}
		for j, r := range list.Content {
			if r.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%w: rule %d of group %d is not a mapping", errNotRuleFile, j, i)
			}
			if mappingValue(r, "alert") != nil {
				setFor(r, value)
			}
		}
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("writing rule file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing rule file: %w", err)
	}
	return buf.Bytes(), nil
}

// mappingValue returns the value node of key in the mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setFor sets the `for` of the alerting rule r, adding the key after `expr`
// (where people look for it) when the rule has none.
func setFor(r *yaml.Node, value string) {
	if v := mappingValue(r, "for"); v != nil {
		// Keep v's comments; replace anything else (an anchor, a tag) whole.
		*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value,
			HeadComment: v.HeadComment, LineComment: v.LineComment, FootComment: v.FootComment}
		return
	}
	at := len(r.Content)
	for i := 0; i+1 < len(r.Content); i += 2 {
		if r.Content[i].Value == "expr" {
			at = i + 2
			break
		}
	}
	r.Content = slices.Insert(r.Content, at,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "for"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
