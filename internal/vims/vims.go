// Package vims is the VIM registry: VIMs the VNFM knows by id, so that a
// vimConnectionInfo may carry just a vimId, a default VIM for requests that
// name none, and VIMs that management drivers register (the Kubernetes
// cluster a VNF builds). Credentials are sealed at rest and never returned.
package vims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
)

// VIM types as Tacker names them; the ETSI names map onto them.
const (
	TypeOpenStack  = "openstack"
	TypeKubernetes = "kubernetes"
)

// ETSI vimType values of the connection infos the registry hands out.
const (
	VimTypeOpenStack  = "ETSINFV.OPENSTACK_KEYSTONE.V_3"
	VimTypeKubernetes = "ETSINFV.KUBERNETES.V_1"
	VimTypeHelm       = "ETSINFV.HELM.V_3"
)

// Sealer seals credentials at rest.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// Config holds the Service's collaborators.
type Config struct {
	Store store.Store
	Box   Sealer
	Log   *slog.Logger
	Now   func() time.Time
	NewID func() string
}

// Service manages registered VIMs.
type Service struct {
	st    store.Store
	box   Sealer
	log   *slog.Logger
	now   func() time.Time
	newID func() string
}

// New builds the registry.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, box: cfg.Box, log: cfg.Log, now: cfg.Now, newID: cfg.NewID}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	return s
}

// sealed is what Vim.Sealed holds.
type sealed struct {
	AuthCred map[string]any `json:"auth_cred,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
}

// Register adds a VIM. in carries credentials in clear; the result is the
// public view. Making it the default takes the flag from the previous one.
func (s *Service) Register(ctx context.Context, in model.Vim) (*model.Vim, error) {
	if err := normalize(&in); err != nil {
		return nil, err
	}
	v := &store.Vim{Vim: in}
	v.CreatedAt, v.UpdatedAt = time.Time{}, nil
	err := s.st.InTx(ctx, func(tx store.Tx) error { return s.create(ctx, tx, v) })
	if errors.Is(err, store.ErrDuplicate) {
		return nil, fmt.Errorf("%w: a VIM named %q already exists", lcm.ErrStateConflict, in.Name)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("vim registered", "vim_id", v.ID, "name", v.Name, "type", v.Type, "default", v.IsDefault)
	return &v.Vim, nil
}

// Ensure registers in by name, or updates the VIM of that name to in
// (credentials included). Used for a VIM given in the server's
// configuration, which must survive restarts without duplicating.
func (s *Service) Ensure(ctx context.Context, in model.Vim) (*model.Vim, error) {
	if err := normalize(&in); err != nil {
		return nil, err
	}
	var out *model.Vim
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		list, err := tx.ListVims(ctx)
		if err != nil {
			return err
		}
		var cur *store.Vim
		for i := range list {
			if list[i].Name == in.Name {
				cur = &list[i]
			}
		}
		if cur == nil {
			v := &store.Vim{Vim: in}
			if err := s.create(ctx, tx, v); err != nil {
				return err
			}
			out = &v.Vim
			return nil
		}
		id, created, rev, seq := cur.ID, cur.CreatedAt, cur.Revision, cur.Seq
		cur.Vim = in
		cur.ID, cur.CreatedAt, cur.Revision, cur.Seq, cur.Status = id, created, rev, seq, "ACTIVE"
		if err := s.update(ctx, tx, cur); err != nil {
			return err
		}
		out = &cur.Vim
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ensure vim %q: %w", in.Name, err)
	}
	return out, nil
}

// create inserts v as a new ACTIVE VIM, credentials sealed, taking the
// default flag from the others if v is the default.
func (s *Service) create(ctx context.Context, tx store.Tx, v *store.Vim) error {
	v.ID, v.Status = s.newID(), "ACTIVE"
	if err := s.seal(v); err != nil {
		return err
	}
	if v.IsDefault {
		if err := clearDefault(ctx, tx, v.ID); err != nil {
			return err
		}
	}
	return tx.CreateVim(ctx, v)
}

// update writes v (credentials in clear) back, sealed and stamped.
func (s *Service) update(ctx context.Context, tx store.Tx, v *store.Vim) error {
	now := s.now().UTC()
	v.UpdatedAt = &now
	if err := s.seal(v); err != nil {
		return err
	}
	if v.IsDefault {
		if err := clearDefault(ctx, tx, v.ID); err != nil {
			return err
		}
	}
	return tx.UpdateVim(ctx, v)
}

// clearDefault takes the default flag from every VIM but keep.
func clearDefault(ctx context.Context, tx store.Tx, keep string) error {
	list, err := tx.ListVims(ctx)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].IsDefault && list[i].ID != keep {
			list[i].IsDefault = false
			if err := tx.UpdateVim(ctx, &list[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Get returns one VIM's public view.
func (s *Service) Get(ctx context.Context, id string) (*model.Vim, error) {
	v, err := s.st.GetVim(ctx, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	return &v.Vim, nil
}

// List returns every VIM's public view.
func (s *Service) List(ctx context.Context) ([]model.Vim, error) {
	list, err := s.st.ListVims(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]model.Vim, len(list))
	for i := range list {
		out[i] = list[i].Vim
	}
	return out, nil
}

// Update is Tacker's PUT /vims/{id}: the attributes present in patch
// replace the stored ones; auth_cred and vim_project merge key by key, so a
// password change need not repeat the user name. The type cannot change.
func (s *Service) Update(ctx context.Context, id string, patch model.Vim, present map[string]bool) (*model.Vim, error) {
	var out *model.Vim
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.GetVim(ctx, id)
		if err != nil {
			return notFound(err, id)
		}
		full, err := s.open(cur)
		if err != nil {
			return err
		}
		if present["type"] && patch.Type != "" && canonicalType(patch.Type) != full.Type {
			return fmt.Errorf("%w: the type of a VIM cannot change (it is %s)", lcm.ErrBadRequest, full.Type)
		}
		if present["name"] {
			full.Name = patch.Name
		}
		if present["description"] {
			full.Description = patch.Description
		}
		if present["is_default"] {
			full.IsDefault = patch.IsDefault
		}
		if present["auth_url"] {
			full.AuthURL = patch.AuthURL
		}
		if present["tenant_id"] {
			full.TenantID = patch.TenantID
		}
		for k, v := range patch.AuthCred {
			if full.AuthCred == nil {
				full.AuthCred = map[string]any{}
			}
			full.AuthCred[k] = v
		}
		for k, v := range patch.VimProject {
			if full.VimProject == nil {
				full.VimProject = map[string]any{}
			}
			full.VimProject[k] = v
		}
		if present["extra"] {
			full.Extra = patch.Extra
		}
		if present["placement_attr"] {
			full.PlacementAttr = patch.PlacementAttr
		}
		if err := normalize(&full.Vim); err != nil {
			return err
		}
		if err := s.update(ctx, tx, full); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("%w: a VIM named %q already exists", lcm.ErrStateConflict, full.Name)
			}
			return err
		}
		out = &full.Vim
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("vim updated", "vim_id", id)
	return out, nil
}

// Delete removes a VIM no VNF instance refers to.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.DeleteFor(ctx, id, "")
}

// DeleteFor removes a VIM that no VNF instance other than owner refers to:
// a management driver deregisters the VIM it registered for its own
// instance while that instance still lists it. Deleting a VIM that is
// already gone is not an error then (the hook may be retried).
func (s *Service) DeleteFor(ctx context.Context, id, owner string) error {
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.GetVim(ctx, id); err != nil {
			if owner != "" && errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return notFound(err, id)
		}
		if user, err := instanceUsing(ctx, tx, id, owner); err != nil {
			return err
		} else if user != "" {
			return fmt.Errorf("%w: VIM %s is used by VNF instance %s", lcm.ErrStateConflict, id, user)
		}
		return tx.DeleteVim(ctx, id)
	})
	if err != nil {
		return err
	}
	s.log.Info("vim deleted", "vim_id", id)
	return nil
}

// instanceUsing returns an instance other than except whose
// vimConnectionInfo names the VIM.
func instanceUsing(ctx context.Context, tx store.Tx, vimID, except string) (string, error) {
	var after int64
	for {
		page, err := tx.ListInstances(ctx, store.ListOptions{AfterSeq: after, Limit: 500})
		if err != nil {
			return "", err
		}
		for _, inst := range page {
			for _, c := range inst.VimConnectionInfo {
				if c.VimID == vimID && inst.ID != except {
					return inst.ID, nil
				}
			}
			after = inst.Seq
		}
		if len(page) < 500 {
			return "", nil
		}
	}
}

// Connection returns the full connection info (credentials included) of a
// registered VIM, for drivers.
func (s *Service) Connection(ctx context.Context, tx store.VimTx, vimID string) (*model.VimConnectionInfo, error) {
	if tx == nil {
		tx = s.st
	}
	v, err := tx.GetVim(ctx, vimID)
	if err != nil {
		return nil, notFound(err, vimID)
	}
	full, err := s.open(v)
	if err != nil {
		return nil, err
	}
	return connection(&full.Vim), nil
}

// DefaultConnection returns the default VIM's connection info, nil when
// there is no default VIM.
func (s *Service) DefaultConnection(ctx context.Context, tx store.VimTx) (*model.VimConnectionInfo, error) {
	if tx == nil {
		tx = s.st
	}
	list, err := tx.ListVims(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].IsDefault {
			full, err := s.open(&list[i])
			if err != nil {
				return nil, err
			}
			return connection(&full.Vim), nil
		}
	}
	return nil, nil
}

// connection maps a Tacker-style VIM onto an ETSI vimConnectionInfo, with
// the accessInfo names the drivers read (Tacker v2's).
func connection(v *model.Vim) *model.VimConnectionInfo {
	c := &model.VimConnectionInfo{ID: v.ID, VimID: v.ID, InterfaceInfo: map[string]any{"endpoint": v.AuthURL}, AccessInfo: map[string]any{}}
	cred := v.AuthCred
	copyKeys := func(dst map[string]any, pairs ...string) {
		for i := 0; i+1 < len(pairs); i += 2 {
			if x, ok := cred[pairs[i]]; ok && x != "" && x != nil {
				dst[pairs[i+1]] = x
			}
		}
	}
	switch v.Type {
	case TypeOpenStack:
		c.VimType = VimTypeOpenStack
		copyKeys(c.AccessInfo, "username", "username", "password", "password", "user_domain_name", "userDomain",
			"application_credential_id", "applicationCredentialId", "application_credential_secret", "applicationCredentialSecret")
		copyKeys(c.InterfaceInfo, "ssl_ca_cert", "ssl_ca_cert", "cert_verify", "cert_verify")
		if n, _ := v.VimProject["name"].(string); n != "" {
			c.AccessInfo["project"] = n
		}
		if id, _ := v.VimProject["id"].(string); id != "" {
			c.AccessInfo["projectId"] = id
		}
		if d, _ := v.VimProject["project_domain_name"].(string); d != "" {
			c.AccessInfo["projectDomain"] = d
		}
		if regions, _ := v.PlacementAttr["regions"].([]any); len(regions) > 0 {
			if r, _ := regions[0].(string); r != "" {
				c.AccessInfo["region"] = r
			}
		}
	case TypeKubernetes:
		c.VimType = VimTypeKubernetes
		if h, _ := v.Extra["use_helm"].(bool); h {
			c.VimType = VimTypeHelm
		}
		copyKeys(c.AccessInfo, "bearer_token", "bearer_token", "username", "username", "password", "password",
			"client_cert", "client_cert", "client_key", "client_key", "oidc_token_url", "oidc_token_url", "client_id", "client_id", "client_secret", "client_secret")
		copyKeys(c.InterfaceInfo, "ssl_ca_cert", "ssl_ca_cert")
		if n, _ := v.VimProject["name"].(string); n != "" {
			c.InterfaceInfo["namespace"] = n
		}
	}
	if len(v.Extra) > 0 {
		c.Extra = v.Extra
	}
	return c
}

func (s *Service) seal(v *store.Vim) error {
	raw, err := json.Marshal(sealed{AuthCred: v.AuthCred, Extra: v.Extra})
	if err != nil {
		return fmt.Errorf("seal vim credentials: %w", err)
	}
	if v.Sealed, err = s.box.Seal(raw); err != nil {
		return fmt.Errorf("seal vim credentials: %w", err)
	}
	v.AuthCred = secret.RedactMap(v.AuthCred)
	v.Extra = secret.RedactMap(v.Extra)
	return nil
}

// open returns a copy of v with its sealed credentials restored.
func (s *Service) open(v *store.Vim) (*store.Vim, error) {
	out := *v
	if len(v.Sealed) == 0 {
		return &out, nil
	}
	raw, err := s.box.Open(v.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open credentials of vim %s: %w", v.ID, err)
	}
	var sd sealed
	if err := json.Unmarshal(raw, &sd); err != nil {
		return nil, fmt.Errorf("decode credentials of vim %s: %w", v.ID, err)
	}
	out.AuthCred, out.Extra = sd.AuthCred, sd.Extra
	return &out, nil
}

func canonicalType(t string) string {
	switch strings.ToUpper(t) {
	case "OPENSTACK", VimTypeOpenStack:
		return TypeOpenStack
	case "KUBERNETES", VimTypeKubernetes, VimTypeHelm:
		return TypeKubernetes
	}
	return t
}

// normalize checks a VIM for registration and fills defaults.
func normalize(v *model.Vim) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", lcm.ErrBadRequest, fmt.Sprintf(format, args...))
	}
	if v.Type == "" {
		v.Type = TypeOpenStack
	}
	v.Type = canonicalType(v.Type)
	if strings.TrimSpace(v.Name) == "" {
		return bad("name is required")
	}
	if len(v.Name) > 255 {
		return bad("name is longer than 255 characters")
	}
	u, err := url.Parse(v.AuthURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("auth_url %q is not an absolute http(s) URL", v.AuthURL)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	switch v.Type {
	case TypeOpenStack:
		if str(v.VimProject, "name") == "" && str(v.VimProject, "id") == "" {
			return bad("vim_project.name (the OpenStack project) is required")
		}
		appCred := str(v.AuthCred, "application_credential_id") != "" && str(v.AuthCred, "application_credential_secret") != ""
		if !appCred && (str(v.AuthCred, "username") == "" || str(v.AuthCred, "password") == "") {
			return bad("auth_cred needs username and password, or application_credential_id and application_credential_secret")
		}
		if cv, ok := v.AuthCred["cert_verify"]; ok {
			switch fmt.Sprint(cv) {
			case "True", "False", "true", "false":
			default:
				return bad("auth_cred.cert_verify must be True or False")
			}
		}
	case TypeKubernetes:
		if str(v.AuthCred, "bearer_token") == "" && (str(v.AuthCred, "username") == "" || str(v.AuthCred, "password") == "") &&
			(str(v.AuthCred, "client_cert") == "" || str(v.AuthCred, "client_key") == "") {
			return bad("auth_cred needs bearer_token, username and password, or client_cert and client_key")
		}
	default:
		return bad("type %q is not supported (openstack, kubernetes)", v.Type)
	}
	if v.PlacementAttr == nil {
		v.PlacementAttr = map[string]any{}
	}
	if v.VimProject == nil {
		v.VimProject = map[string]any{}
	}
	return nil
}

func notFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: VIM %s does not exist", lcm.ErrNotFound, id)
	}
	return err
}
