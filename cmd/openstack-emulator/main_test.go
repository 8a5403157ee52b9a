package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunRejectsUnknownBackend(t *testing.T) {
	t.Parallel()
	err := run([]string{"-backend", "vmware", "-listen", "127.0.0.1:0"})
	require.ErrorContains(t, err, `-backend "vmware": unsupported`)
	require.Error(t, run([]string{"-log-level", "loud"}))
}
