package openstack

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/vnfm-project/vnfm/internal/model"
)

// vimAuth is a VIM connection as Keystone v3 needs it.
type vimAuth struct {
	endpoint   string
	caCert     string
	insecure   bool
	region     string
	iface      gophercloud.Availability
	opts       gophercloud.AuthOptions
	cacheKey   string
	vimConnID  string
	authMethod string // for logs: "password" or "application_credential"
}

// field reads the first of names present in m as a string. A present
// non-string value is an error naming the field (never its value).
func field(m map[string]any, where string, names ...string) (string, error) {
	for _, n := range names {
		v, ok := m[n]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", unprocessable(fmt.Sprintf("vimConnectionInfo.%s.%s must be a string", where, n), nil)
		}
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}

// parseVim validates a vimConnectionInfo. Errors name fields, never values:
// accessInfo holds secrets.
func parseVim(v *model.VimConnectionInfo) (*vimAuth, error) {
	if v == nil {
		return nil, unprocessable("no vimConnectionInfo for the OpenStack driver", nil)
	}
	ii, ai := v.InterfaceInfo, v.AccessInfo
	a := &vimAuth{vimConnID: v.ID, iface: gophercloud.AvailabilityPublic}
	var err error
	if a.endpoint, err = field(ii, "interfaceInfo", "endpoint", "authUrl", "auth_url"); err != nil {
		return nil, err
	}
	if a.endpoint == "" {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.endpoint (the Keystone v3 URL) is missing", nil)
	}
	u, perr := url.Parse(a.endpoint)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.endpoint is not an http(s) URL", nil)
	}
	if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v3") {
		// Keystone v3 only: the endpoint is the identity URL with /v3.
		a.endpoint = strings.TrimSuffix(a.endpoint, "/") + "/v3"
	}
	if a.caCert, err = field(ii, "interfaceInfo", "ssl_ca_cert", "sslCaCert"); err != nil {
		return nil, err
	}
	if a.caCert != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(a.caCert)) {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.ssl_ca_cert holds no PEM certificate", nil)
	}
	for _, n := range []string{"cert_verify", "certVerify"} {
		switch cv := ii[n].(type) {
		case nil:
		case bool:
			a.insecure = !cv
		case string:
			b, err := strconv.ParseBool(cv)
			if err != nil {
				return nil, unprocessable(fmt.Sprintf("vimConnectionInfo.interfaceInfo.%s must be a boolean", n), nil)
			}
			a.insecure = !b
		default:
			return nil, unprocessable(fmt.Sprintf("vimConnectionInfo.interfaceInfo.%s must be a boolean", n), nil)
		}
	}
	if a.region, err = field(ai, "accessInfo", "region", "regionName", "region_name"); err != nil {
		return nil, err
	}
	iface, err := field(ai, "accessInfo", "interface", "endpointType", "endpoint_type")
	if err != nil {
		return nil, err
	}
	switch strings.TrimSuffix(strings.ToLower(iface), "url") {
	case "", "public":
	case "internal":
		a.iface = gophercloud.AvailabilityInternal
	case "admin":
		a.iface = gophercloud.AvailabilityAdmin
	default:
		return nil, unprocessable("vimConnectionInfo.accessInfo.interface must be public, internal or admin", nil)
	}

	get := func(names ...string) (string, error) { return field(ai, "accessInfo", names...) }
	o := gophercloud.AuthOptions{IdentityEndpoint: a.endpoint, AllowReauth: true}
	if o.ApplicationCredentialID, err = get("applicationCredentialId", "application_credential_id"); err != nil {
		return nil, err
	}
	if o.ApplicationCredentialSecret, err = get("applicationCredentialSecret", "application_credential_secret"); err != nil {
		return nil, err
	}
	if o.ApplicationCredentialID != "" || o.ApplicationCredentialSecret != "" {
		if o.ApplicationCredentialID == "" {
			return nil, unprocessable("vimConnectionInfo.accessInfo.applicationCredentialId is missing", nil)
		}
		if o.ApplicationCredentialSecret == "" {
			return nil, unprocessable("vimConnectionInfo.accessInfo.applicationCredentialSecret is missing", nil)
		}
		a.authMethod = "application_credential"
	} else {
		a.authMethod = "password"
		if o.Username, err = get("username", "userName", "user_name"); err != nil {
			return nil, err
		}
		if o.UserID, err = get("userId", "user_id"); err != nil {
			return nil, err
		}
		if o.Username == "" && o.UserID == "" {
			return nil, unprocessable("vimConnectionInfo.accessInfo.username is missing", nil)
		}
		if o.Password, err = get("password"); err != nil {
			return nil, err
		}
		if o.Password == "" {
			return nil, unprocessable("vimConnectionInfo.accessInfo.password is missing", nil)
		}
		if o.Username != "" {
			if o.DomainName, err = get("userDomain", "user_domain", "userDomainName", "user_domain_name"); err != nil {
				return nil, err
			}
			if o.DomainID, err = get("userDomainId", "user_domain_id"); err != nil {
				return nil, err
			}
			if o.DomainName == "" && o.DomainID == "" {
				o.DomainName = "Default" // what the openstack CLI assumes too
			}
		}
		s := &gophercloud.AuthScope{}
		if s.ProjectID, err = get("projectId", "project_id", "tenantId", "tenant_id"); err != nil {
			return nil, err
		}
		if s.ProjectID == "" {
			if s.ProjectName, err = get("project", "projectName", "project_name", "tenant", "tenantName"); err != nil {
				return nil, err
			}
			if s.ProjectName == "" {
				return nil, unprocessable("vimConnectionInfo.accessInfo.project (or projectId) is missing", nil)
			}
			if s.DomainName, err = get("projectDomain", "project_domain", "projectDomainName", "project_domain_name"); err != nil {
				return nil, err
			}
			if s.DomainID, err = get("projectDomainId", "project_domain_id"); err != nil {
				return nil, err
			}
			if s.DomainName == "" && s.DomainID == "" {
				s.DomainName = "Default"
			}
		}
		o.Scope = s
	}
	a.opts = o

	// The cache key covers everything that shapes the session; it is a hash
	// so the map never holds secrets in a printable form.
	raw, _ := json.Marshal([]any{v.VimType, ii, ai})
	sum := sha256.Sum256(raw)
	a.cacheKey = hex.EncodeToString(sum[:])
	return a, nil
}

// httpClient returns the HTTP client for a VIM: the configured one, with
// the VIM's CA bundle or verification setting applied to a copy.
func (a *vimAuth) httpClient(base *http.Client) (*http.Client, error) {
	c := http.Client{}
	if base != nil {
		c = *base
	}
	if a.caCert == "" && !a.insecure {
		return &c, nil
	}
	var tr *http.Transport
	switch t := c.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, unprocessable("interfaceInfo.ssl_ca_cert/cert_verify need an *http.Transport", nil)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		tc = tr.TLSClientConfig.Clone()
	}
	if a.caCert != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(a.caCert))
		tc.RootCAs = pool
	}
	tc.InsecureSkipVerify = a.insecure //nolint:gosec // the VIM's own cert_verify=false
	tr.TLSClientConfig = tc
	c.Transport = tr
	return &c, nil
}

// clients are the service clients of one VIM session.
type clients struct {
	heat    *gophercloud.ServiceClient
	nova    *gophercloud.ServiceClient
	neutron *gophercloud.ServiceClient
}

// sessionCache keeps one authenticated provider per VIM connection;
// gophercloud re-authenticates it when its token expires.
type sessionCache struct {
	mu      sync.Mutex
	entries map[string]*sessionEntry
}

type sessionEntry struct {
	mu sync.Mutex // serialises the first authentication
	c  *clients
}

const maxSessions = 256

func (sc *sessionCache) get(ctx context.Context, a *vimAuth, base *http.Client) (*clients, error) {
	sc.mu.Lock()
	if sc.entries == nil {
		sc.entries = map[string]*sessionEntry{}
	}
	e := sc.entries[a.cacheKey]
	if e == nil {
		if len(sc.entries) >= maxSessions {
			for k := range sc.entries { // evict any one: re-auth is cheap
				delete(sc.entries, k)
				break
			}
		}
		e = &sessionEntry{}
		sc.entries[a.cacheKey] = e
	}
	sc.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		return e.c, nil
	}
	c, err := connect(ctx, a, base)
	if err != nil {
		return nil, err
	}
	e.c = c
	return c, nil
}

// forget drops a VIM's session (after it was refused), so the next call
// authenticates afresh.
func (sc *sessionCache) forget(a *vimAuth) {
	sc.mu.Lock()
	delete(sc.entries, a.cacheKey)
	sc.mu.Unlock()
}

func connect(ctx context.Context, a *vimAuth, base *http.Client) (*clients, error) {
	hc, err := a.httpClient(base)
	if err != nil {
		return nil, err
	}
	pc, err := openstack.NewClient(a.endpoint)
	if err != nil {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.endpoint is not usable", nil)
	}
	pc.HTTPClient = *hc
	pc.UserAgent.Prepend("vnfm")
	if err := openstack.AuthenticateV3(ctx, pc, &a.opts, gophercloud.EndpointOpts{}); err != nil {
		return nil, classify("authenticate to Keystone", err)
	}
	eo := gophercloud.EndpointOpts{Region: a.region, Availability: a.iface}
	c := &clients{}
	if c.heat, err = openstack.NewOrchestrationV1(pc, eo); err != nil {
		return nil, catalogError("orchestration (Heat)", err)
	}
	if c.nova, err = openstack.NewComputeV2(pc, eo); err != nil {
		return nil, catalogError("compute (Nova)", err)
	}
	if c.neutron, err = openstack.NewNetworkV2(pc, eo); err != nil {
		return nil, catalogError("network (Neutron)", err)
	}
	return c, nil
}
