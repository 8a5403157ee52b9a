package osemu

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

func (e *Emulator) serveNova(w http.ResponseWriter, r *http.Request) {
	seg := splitPath(r.URL.Path, "/compute")
	base := e.baseURL(r)
	if len(seg) == 0 || seg[0] != "v2.1" {
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{novaVersion(base)}})
		return
	}
	seg = seg[1:]
	switch {
	case len(seg) == 0:
		writeJSON(w, http.StatusOK, map[string]any{"version": novaVersion(base)})
	case seg[0] == "servers":
		e.novaServers(w, r, base, seg[1:])
	case seg[0] == "flavors" && r.Method == http.MethodGet:
		e.novaFlavors(w, base, seg[1:])
	case seg[0] == "os-keypairs":
		e.novaKeypairs(w, r, seg[1:])
	default:
		writeNovaError(w, http.StatusNotFound, "The resource could not be found.")
	}
}

func novaVersion(base string) map[string]any {
	return map[string]any{
		"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
		"links": []any{map[string]any{"rel": "self", "href": base + "/compute/v2.1/"}},
	}
}

func vmState(status string) string {
	switch status {
	case "BUILD":
		return "building"
	case "ERROR":
		return "error"
	case "SHUTOFF":
		return "stopped"
	case "PAUSED":
		return "paused"
	case "SUSPENDED":
		return "suspended"
	}
	return "active"
}

func (e *Emulator) serverJSONLocked(s *server, base string) map[string]any {
	status := s.effectiveStatus(time.Now())
	fl, _ := findFlavor(s.FlavorID)
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	power := 1
	if status != "ACTIVE" {
		power = 4
		if status == "BUILD" {
			power = 0
		}
	}
	var task any
	if status == "BUILD" {
		task = "spawning"
	}
	url := base + "/compute/v2.1/servers/" + s.ID
	m := map[string]any{
		"id":        s.ID,
		"name":      s.Name,
		"status":    status,
		"addresses": e.serverAddressesLocked(s),
		"flavor": map[string]any{
			"id": fl.ID, "original_name": fl.Name, "vcpus": fl.VCPUs, "ram": fl.RAM, "disk": fl.Disk,
			"ephemeral": 0, "swap": 0, "extra_specs": map[string]any{},
		},
		"image":                                map[string]any{"id": s.Image, "links": []any{}},
		"key_name":                             nilIfEmpty(s.KeyName),
		"metadata":                             md,
		"created":                              s.Created.Format(heatTime),
		"updated":                              s.Updated.Format(heatTime),
		"tenant_id":                            e.st.ProjectID,
		"user_id":                              e.st.UserID,
		"hostId":                               "emulator",
		"progress":                             0,
		"accessIPv4":                           "",
		"accessIPv6":                           "",
		"config_drive":                         "",
		"OS-EXT-STS:vm_state":                  vmState(status),
		"OS-EXT-STS:task_state":                task,
		"OS-EXT-STS:power_state":               power,
		"OS-EXT-AZ:availability_zone":          "nova",
		"OS-DCF:diskConfig":                    "MANUAL",
		"security_groups":                      []any{map[string]any{"name": "default"}},
		"os-extended-volumes:volumes_attached": []any{},
		"links": []any{
			map[string]any{"rel": "self", "href": url},
			map[string]any{"rel": "bookmark", "href": url},
		},
	}
	if status == "ERROR" {
		msg := s.FaultReason
		if msg == "" {
			msg = "Unknown"
		}
		m["fault"] = map[string]any{"code": 500, "message": msg, "created": s.Updated.Format(heatTime)}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *Emulator) novaServers(w http.ResponseWriter, r *http.Request, base string, seg []string) {
	switch {
	case len(seg) == 0 && r.Method == http.MethodPost:
		writeNovaError(w, http.StatusForbidden, "Creating servers directly is not supported by the emulator; use Heat.")
	case (len(seg) == 0 || (len(seg) == 1 && seg[0] == "detail")) && r.Method == http.MethodGet:
		detail := len(seg) == 1
		q := r.URL.Query()
		var nameRE *regexp.Regexp
		if n := q.Get("name"); n != "" {
			var err error
			if nameRE, err = regexp.Compile(n); err != nil {
				nameRE = regexp.MustCompile(regexp.QuoteMeta(n))
			}
		}
		e.mu.Lock()
		var list []map[string]any
		for _, s := range e.st.Servers {
			sj := e.serverJSONLocked(s, base)
			if nameRE != nil && !nameRE.MatchString(s.Name) {
				continue
			}
			if st := q.Get("status"); st != "" && !strings.EqualFold(st, sj["status"].(string)) {
				continue
			}
			if !detail {
				sj = map[string]any{"id": s.ID, "name": s.Name, "links": sj["links"]}
			}
			list = append(list, sj)
		}
		e.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i]["id"].(string) < list[j]["id"].(string) })
		out := make([]any, len(list))
		for i, x := range list {
			out[i] = x
		}
		writeJSON(w, http.StatusOK, map[string]any{"servers": out})
	case len(seg) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		s := e.st.Servers[seg[0]]
		var sj map[string]any
		if s != nil {
			sj = e.serverJSONLocked(s, base)
		}
		e.mu.Unlock()
		if s == nil {
			writeNovaError(w, http.StatusNotFound, fmt.Sprintf("Instance %s could not be found.", seg[0]))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"server": sj})
	case len(seg) == 1 && r.Method == http.MethodDelete:
		e.mu.Lock()
		_, ok := e.st.Servers[seg[0]]
		if ok {
			e.deleteServerLocked(seg[0])
			e.changed()
		}
		e.mu.Unlock()
		if !ok {
			writeNovaError(w, http.StatusNotFound, fmt.Sprintf("Instance %s could not be found.", seg[0]))
			return
		}
		if err := e.backend.Stop(r.Context(), seg[0]); err != nil {
			e.log.Warn("backend stop failed", "server", seg[0], "err", err)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeNovaError(w, http.StatusNotFound, "The resource could not be found.")
	}
}

func flavorJSON(f flavor, base string, detail bool) map[string]any {
	url := base + "/compute/v2.1/flavors/" + f.ID
	m := map[string]any{"id": f.ID, "name": f.Name, "links": []any{map[string]any{"rel": "self", "href": url}}}
	if detail {
		m["vcpus"] = f.VCPUs
		m["ram"] = f.RAM
		m["disk"] = f.Disk
		m["swap"] = ""
		m["OS-FLV-EXT-DATA:ephemeral"] = 0
		m["OS-FLV-DISABLED:disabled"] = false
		m["os-flavor-access:is_public"] = true
		m["rxtx_factor"] = 1.0
		m["description"] = nil
	}
	return m
}

func (e *Emulator) novaFlavors(w http.ResponseWriter, base string, seg []string) {
	switch {
	case len(seg) == 0 || (len(seg) == 1 && seg[0] == "detail"):
		out := []any{}
		for _, f := range novaFlavorList {
			out = append(out, flavorJSON(f, base, len(seg) == 1))
		}
		writeJSON(w, http.StatusOK, map[string]any{"flavors": out})
	case len(seg) == 1:
		f, ok := findFlavor(seg[0])
		if !ok {
			writeNovaError(w, http.StatusNotFound, fmt.Sprintf("Flavor %s could not be found.", seg[0]))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"flavor": flavorJSON(f, base, true)})
	default:
		writeNovaError(w, http.StatusNotFound, "The resource could not be found.")
	}
}

func keypairJSON(k *keypair, uid string) map[string]any {
	return map[string]any{
		"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint, "user_id": uid,
		"type": "ssh", "created_at": k.Created.Format(heatTime),
	}
}

// fingerprint is Nova's MD5 fingerprint of an OpenSSH public key.
func fingerprint(pub string) (string, error) {
	f := strings.Fields(pub)
	if len(f) < 2 {
		return "", fmt.Errorf("public key is not in OpenSSH format")
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", fmt.Errorf("public key is not in OpenSSH format: %w", err)
	}
	sum := md5.Sum(blob)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}

func (e *Emulator) novaKeypairs(w http.ResponseWriter, r *http.Request, seg []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	uid := e.st.UserID
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		names := make([]string, 0, len(e.st.Keypairs))
		for n := range e.st.Keypairs {
			names = append(names, n)
		}
		sort.Strings(names)
		out := []any{}
		for _, n := range names {
			out = append(out, map[string]any{"keypair": keypairJSON(e.st.Keypairs[n], uid)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"keypairs": out})
	case len(seg) == 0 && r.Method == http.MethodPost:
		var body struct {
			Keypair struct {
				Name      string `json:"name"`
				PublicKey string `json:"public_key"`
			} `json:"keypair"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Keypair.Name == "" {
			writeNovaError(w, http.StatusBadRequest, "Invalid input for field/attribute keypair.")
			return
		}
		if body.Keypair.PublicKey == "" {
			writeNovaError(w, http.StatusBadRequest, "Keypair data is invalid: the emulator requires public_key")
			return
		}
		fp, err := fingerprint(body.Keypair.PublicKey)
		if err != nil {
			writeNovaError(w, http.StatusBadRequest, "Keypair data is invalid: "+err.Error())
			return
		}
		if _, ok := e.st.Keypairs[body.Keypair.Name]; ok {
			writeNovaError(w, http.StatusConflict, fmt.Sprintf("Key pair '%s' already exists.", body.Keypair.Name))
			return
		}
		k := &keypair{Name: body.Keypair.Name, PublicKey: strings.TrimSpace(body.Keypair.PublicKey), Fingerprint: fp, Created: time.Now().UTC()}
		e.st.Keypairs[k.Name] = k
		e.changed()
		writeJSON(w, http.StatusOK, map[string]any{"keypair": keypairJSON(k, uid)})
	case len(seg) == 1 && r.Method == http.MethodGet:
		k := e.st.Keypairs[seg[0]]
		if k == nil {
			writeNovaError(w, http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", seg[0], uid))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"keypair": keypairJSON(k, uid)})
	case len(seg) == 1 && r.Method == http.MethodDelete:
		if e.st.Keypairs[seg[0]] == nil {
			writeNovaError(w, http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", seg[0], uid))
			return
		}
		delete(e.st.Keypairs, seg[0])
		e.changed()
		w.WriteHeader(http.StatusAccepted)
	default:
		writeNovaError(w, http.StatusNotFound, "The resource could not be found.")
	}
}
