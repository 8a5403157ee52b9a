package osemu

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"
)

type token struct {
	Expires time.Time
	Issued  time.Time
	Methods []string
	AppCred bool
}

func keystoneVersion(base string) map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []any{map[string]any{"rel": "self", "href": base + "/v3/"}},
		"media-types": []any{map[string]any{
			"base": "application/json", "type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

func (e *Emulator) validToken(id string) bool {
	if id == "" {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tokens[id]
	return ok && time.Now().Before(t.Expires)
}

func (e *Emulator) serveKeystone(w http.ResponseWriter, r *http.Request) {
	seg := splitPath(r.URL.Path, "/v3")
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"version": keystoneVersion(e.baseURL(r))})
	case len(seg) == 2 && seg[0] == "auth" && seg[1] == "tokens":
		switch r.Method {
		case http.MethodPost:
			e.issueToken(w, r)
		case http.MethodGet, http.MethodHead:
			e.checkToken(w, r)
		case http.MethodDelete:
			e.mu.Lock()
			delete(e.tokens, r.Header.Get("X-Subject-Token"))
			e.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			writeKeystoneError(w, http.StatusMethodNotAllowed, "Method not allowed")
		}
	default:
		writeKeystoneError(w, http.StatusNotFound, "The resource could not be found.")
	}
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User idRef `json:"user"`
			} `json:"password"`
			AppCred *struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Secret string `json:"secret"`
				User   *idRef `json:"user"`
			} `json:"application_credential"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type idRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Domain   *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"domain"`
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func domainOK(d *struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}) bool {
	return d != nil && (d.ID == defaultDomainID || (d.ID == "" && d.Name == DefaultDomain))
}

func (e *Emulator) userMatches(u idRef) bool {
	e.mu.Lock()
	uid := e.st.UserID
	e.mu.Unlock()
	if u.ID != "" {
		return u.ID == uid
	}
	return u.Name == DefaultUser && domainOK(u.Domain)
}

func (e *Emulator) issueToken(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeKeystoneError(w, http.StatusBadRequest, "Expecting to find auth in request body: "+err.Error())
		return
	}
	id := req.Auth.Identity
	var methods []string
	appCred := false
	switch {
	case contains(id.Methods, "password") && id.Password != nil:
		if !e.userMatches(id.Password.User) || !eq(id.Password.User.Password, DefaultPassword) {
			writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		methods = []string{"password"}
	case contains(id.Methods, "application_credential") && id.AppCred != nil:
		ac := id.AppCred
		okID := ac.ID == DefaultAppCredID
		okName := ac.ID == "" && ac.Name == defaultAppCredName && ac.User != nil && e.userMatches(*ac.User)
		if !(okID || okName) || !eq(ac.Secret, DefaultAppCredSecret) {
			writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		methods = []string{"application_credential"}
		appCred = true
	case contains(id.Methods, "token") && id.Token != nil:
		if !e.validToken(id.Token.ID) {
			writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		methods = []string{"token"}
	default:
		writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	if !e.scopeOK(req.Auth.Scope) {
		writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	now := time.Now().UTC()
	tok := &token{Issued: now, Expires: now.Add(e.cfg.TokenTTL), Methods: methods, AppCred: appCred}
	tid := "gAAAAA" + hexID() + hexID()
	e.mu.Lock()
	e.tokens[tid] = tok
	e.mu.Unlock()
	w.Header().Set("X-Subject-Token", tid)
	writeJSON(w, http.StatusCreated, map[string]any{"token": e.tokenBody(r, tok)})
}

// scopeOK accepts no scope (the user's default project), the admin project
// by id or by name+domain, and the Default domain.
func (e *Emulator) scopeOK(raw json.RawMessage) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var sc struct {
		Project *idRef `json:"project"`
		Domain  *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"domain"`
		System any `json:"system"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		return false
	}
	e.mu.Lock()
	pid := e.st.ProjectID
	e.mu.Unlock()
	switch {
	case sc.Project != nil && sc.Project.ID != "":
		return sc.Project.ID == pid
	case sc.Project != nil:
		return sc.Project.Name == DefaultProject && domainOK(sc.Project.Domain)
	case sc.Domain != nil:
		return domainOK(sc.Domain)
	}
	return sc.System != nil
}

func (e *Emulator) tokenBody(r *http.Request, t *token) map[string]any {
	e.mu.Lock()
	pid, uid := e.st.ProjectID, e.st.UserID
	e.mu.Unlock()
	dom := map[string]any{"id": defaultDomainID, "name": DefaultDomain}
	body := map[string]any{
		"expires_at": t.Expires.Format("2006-01-02T15:04:05.000000Z"),
		"issued_at":  t.Issued.Format("2006-01-02T15:04:05.000000Z"),
		"methods":    t.Methods,
		"audit_ids":  []string{randName(22)},
		"user":       map[string]any{"id": uid, "name": DefaultUser, "domain": dom, "password_expires_at": nil},
		"project":    map[string]any{"id": pid, "name": DefaultProject, "domain": dom},
		"is_domain":  false,
		"roles": []any{
			map[string]any{"id": "a0000000000000000000000000000001", "name": "admin"},
			map[string]any{"id": "a0000000000000000000000000000002", "name": "member"},
			map[string]any{"id": "a0000000000000000000000000000003", "name": "reader"},
		},
		"catalog": e.catalog(e.baseURL(r), pid),
	}
	if t.AppCred {
		body["application_credential"] = map[string]any{"id": DefaultAppCredID, "name": defaultAppCredName, "restricted": true}
	}
	return body
}

func (e *Emulator) catalog(base, pid string) []any {
	entry := func(typ, name, url string) map[string]any {
		var eps []any
		for _, iface := range []string{"public", "internal", "admin"} {
			eps = append(eps, map[string]any{
				"id": typ + "-" + iface, "interface": iface, "region": e.cfg.Region, "region_id": e.cfg.Region, "url": url,
			})
		}
		return map[string]any{"id": typ, "type": typ, "name": name, "endpoints": eps}
	}
	return []any{
		entry("identity", "keystone", base+"/v3"),
		entry("orchestration", "heat", base+"/heat-api/v1/"+pid),
		entry("compute", "nova", base+"/compute/v2.1"),
		entry("network", "neutron", base+"/networking"),
	}
}

func (e *Emulator) checkToken(w http.ResponseWriter, r *http.Request) {
	if !e.validToken(r.Header.Get("X-Auth-Token")) {
		writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	sub := r.Header.Get("X-Subject-Token")
	e.mu.Lock()
	t, ok := e.tokens[sub]
	valid := ok && time.Now().Before(t.Expires)
	e.mu.Unlock()
	if !valid {
		writeKeystoneError(w, http.StatusNotFound, "Failed to validate token")
		return
	}
	w.Header().Set("X-Subject-Token", sub)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": e.tokenBody(r, t)})
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
