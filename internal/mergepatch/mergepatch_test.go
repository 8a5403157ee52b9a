package mergepatch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestObjects(t *testing.T) {
	t.Parallel()
	target := map[string]any{"a": 1.0, "b": map[string]any{"c": "x", "d": "y"}, "e": []any{1.0}}
	got := Objects(target, map[string]any{"a": nil, "b": map[string]any{"c": nil, "f": "z"}, "e": "s", "g": map[string]any{"h": 1.0}})
	require.Equal(t, map[string]any{"b": map[string]any{"d": "y", "f": "z"}, "e": "s", "g": map[string]any{"h": 1.0}}, got)
	require.Equal(t, 1.0, target["a"], "target untouched")
	require.Nil(t, Objects(map[string]any{"a": 1.0}, map[string]any{"a": nil}))
	require.Equal(t, map[string]any{"a": 1.0}, Objects(nil, map[string]any{"a": 1.0}))
}
