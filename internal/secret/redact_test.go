package secret

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"password": true, "PASSWORD": true, "dbPassword": true, "passwd": true, "bearer_token": true,
		"client_secret": true, "credentials": true, "private_key": true, "apiKey": true, "key": true,
		"ssh_key_data": true, "passphrase": true,
		"keyboard": false, "key_name": false, "username": false, "ssl_ca_cert": false, "region": false,
	} {
		require.Equal(t, want, IsSecretKey(name), name)
	}
}

func TestRedactAssignment(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"service.port=8081":                         "service.port=8081",
		"password=hunter2":                          "password=***",
		"auth.rootPassword=hunter2":                 "auth.rootPassword=***",
		"db.credentials.user=admin":                 "db.credentials.user=***",
		"secrets[0].token=abc":                      "secrets[0].token=***",
		"replicas=2,postgresql.auth.password=h,x=1": "replicas=2,postgresql.auth.password=***,x=1",
		`tls.key=a\,b,port=1`:                       "tls.key=***,port=1",
		"apiKey={a,b},ok=1":                         "apiKey=***,ok=1",
		"keyboard.layout=us":                        "keyboard.layout=us",
	} {
		got, changed := RedactAssignment(in)
		require.Equal(t, want, got, in)
		require.Equal(t, want != in, changed, in)
	}
}

// TestRedactHelmParameters: helmparameter strings keep their names, lose
// secret values; the input is not modified.
func TestRedactHelmParameters(t *testing.T) {
	t.Parallel()
	params := []any{"image.tag=1.2", "auth.password=s3cret", "replicaCount=2"}
	in := map[string]any{"additionalParams": map[string]any{
		"using_helm_install_param": []any{map[string]any{
			"exthelmchart": false, "helmreleasename": "r1", "helmparameter": params,
		}},
		"db_password": "s3cret", "keyboard": "us",
	}}
	out, removed := Redact(in)
	require.True(t, removed)
	ap := out.(map[string]any)["additionalParams"].(map[string]any)
	require.Equal(t, map[string]any{"keyboard": "us", "using_helm_install_param": []any{map[string]any{
		"exthelmchart": false, "helmreleasename": "r1",
		"helmparameter": []any{"image.tag=1.2", "auth.password=***", "replicaCount=2"},
	}}}, ap)
	require.Equal(t, "auth.password=s3cret", params[1], "the input is not modified")

	_, removed = Redact(map[string]any{"helmparameter": []any{"a=1"}})
	require.False(t, removed)
}
