package netns

import "testing"

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{
		"vm-a":            "vm-a",
		"VDU1_Worker 2.x": "vdu1-worker-2-x",
		"-é-ok-":          "ok",
		"___":             "",
		"":                "",
	} {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
	long := ""
	for range 70 {
		long += "a"
	}
	if got := hostname(long); len(got) != 63 {
		t.Errorf("long name: %d chars", len(got))
	}
}
