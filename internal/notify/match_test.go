package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

func TestFilterMatches(t *testing.T) {
	t.Parallel()
	inst := &model.VnfInstance{
		ID: "inst-1", VnfInstanceName: "fw-east", VnfdID: "vnfd-fw",
		VnfProvider: "acme", VnfProductName: "firewall", VnfSoftwareVersion: "1.0", VnfdVersion: "1.1",
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	op := func(o model.Operation, s model.OperationState) *event {
		return opOccEvent(&store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{
			ID: "op-1", VnfInstanceID: inst.ID, Operation: o, OperationState: s, StateEnteredTime: at,
		}}, inst)
	}
	var (
		created    = identifierEvent(model.NotifIdentifierCreation, inst, at)
		deleted    = identifierEvent(model.NotifIdentifierDeletion, inst, at)
		instStart  = op(model.OpInstantiate, model.Starting)
		instDone   = op(model.OpInstantiate, model.Completed)
		scaleStart = op(model.OpScale, model.Starting)
		healFailed = op(model.OpHeal, model.FailedTemp)
	)
	type F = model.LifecycleChangeNotificationsFilter
	type I = model.VnfInstanceSubscriptionFilter
	type P = model.VnfProductsFromProvider
	type Pr = model.VnfProduct
	type V = model.VnfProductVersion
	onInst := func(f I) *F { return &F{VnfInstanceSubscriptionFilter: &f} }
	providers := func(p ...P) *F { return onInst(I{VnfProductsFromProviders: p}) }

	all := []*event{created, deleted, instStart, instDone, scaleStart, healFailed}
	tests := []struct {
		name   string
		filter *F
		want   []*event // of all; the others must not match
	}{
		{"nil filter", nil, all},
		{"empty filter", &F{}, all},
		{"empty instance filter", onInst(I{}), all},
		{"empty arrays", &F{NotificationTypes: []string{}, OperationTypes: []model.Operation{}, OperationStates: []model.OperationState{},
			VnfInstanceSubscriptionFilter: &I{VnfdIDs: []string{}, VnfInstanceIDs: []string{}}}, all},

		// notificationTypes
		{"type op occ", &F{NotificationTypes: []string{model.NotifOpOcc}}, []*event{instStart, instDone, scaleStart, healFailed}},
		{"type creation", &F{NotificationTypes: []string{model.NotifIdentifierCreation}}, []*event{created}},
		{"type deletion", &F{NotificationTypes: []string{model.NotifIdentifierDeletion}}, []*event{deleted}},
		{"types creation or deletion", &F{NotificationTypes: []string{model.NotifIdentifierDeletion, model.NotifIdentifierCreation}},
			[]*event{created, deleted}},
		{"type unknown", &F{NotificationTypes: []string{"SomethingElse"}}, nil},

		// operationTypes and operationStates: only op occ notifications are
		// concerned; identifier notifications pass them.
		{"operation instantiate", &F{OperationTypes: []model.Operation{model.OpInstantiate}},
			[]*event{created, deleted, instStart, instDone}},
		{"operations scale or heal", &F{OperationTypes: []model.Operation{model.OpScale, model.OpHeal}},
			[]*event{created, deleted, scaleStart, healFailed}},
		{"operation terminate", &F{OperationTypes: []model.Operation{model.OpTerminate}}, []*event{created, deleted}},
		{"state starting", &F{OperationStates: []model.OperationState{model.Starting}},
			[]*event{created, deleted, instStart, scaleStart}},
		{"states completed or failed_temp", &F{OperationStates: []model.OperationState{model.Completed, model.FailedTemp}},
			[]*event{created, deleted, instDone, healFailed}},
		{"operation and state both apply", &F{OperationTypes: []model.Operation{model.OpInstantiate}, OperationStates: []model.OperationState{model.Starting}},
			[]*event{created, deleted, instStart}},
		{"op occ type with state", &F{NotificationTypes: []string{model.NotifOpOcc}, OperationStates: []model.OperationState{model.Completed}},
			[]*event{instDone}},
		{"identifier type ignores states", &F{NotificationTypes: []string{model.NotifIdentifierCreation}, OperationStates: []model.OperationState{model.Completed},
			OperationTypes: []model.Operation{model.OpTerminate}}, []*event{created}},

		// vnfdIds, vnfInstanceIds, vnfInstanceNames
		{"vnfdId", onInst(I{VnfdIDs: []string{"other", "vnfd-fw"}}), all},
		{"vnfdId other", onInst(I{VnfdIDs: []string{"other"}}), nil},
		{"vnfInstanceId", onInst(I{VnfInstanceIDs: []string{"inst-1"}}), all},
		{"vnfInstanceId other", onInst(I{VnfInstanceIDs: []string{"inst-2"}}), nil},
		{"vnfInstanceName", onInst(I{VnfInstanceNames: []string{"fw-west", "fw-east"}}), all},
		{"vnfInstanceName other", onInst(I{VnfInstanceNames: []string{"fw-west"}}), nil},
		{"vnfInstanceName is exact", onInst(I{VnfInstanceNames: []string{"FW-EAST"}}), nil},
		{"all instance attributes match", onInst(I{VnfdIDs: []string{"vnfd-fw"}, VnfInstanceIDs: []string{"inst-1"}, VnfInstanceNames: []string{"fw-east"}}), all},
		{"one instance attribute fails", onInst(I{VnfdIDs: []string{"vnfd-fw"}, VnfInstanceIDs: []string{"inst-1"}, VnfInstanceNames: []string{"fw-west"}}), nil},
		{"instance and type", &F{NotificationTypes: []string{model.NotifIdentifierDeletion}, VnfInstanceSubscriptionFilter: &I{VnfdIDs: []string{"vnfd-fw"}}},
			[]*event{deleted}},
		{"instance fails, type matches", &F{NotificationTypes: []string{model.NotifIdentifierDeletion}, VnfInstanceSubscriptionFilter: &I{VnfdIDs: []string{"x"}}}, nil},

		// vnfProductsFromProviders
		{"provider", providers(P{VnfProvider: "acme"}), all},
		{"provider other", providers(P{VnfProvider: "globex"}), nil},
		{"provider is exact", providers(P{VnfProvider: "ACME"}), nil},
		{"any provider", providers(P{VnfProvider: "globex"}, P{VnfProvider: "acme"}), all},
		{"product", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall"}}}), all},
		{"product other", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "router"}}}), nil},
		{"product of another provider", providers(P{VnfProvider: "globex", VnfProducts: []Pr{{VnfProductName: "firewall"}}}), nil},
		{"any product", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "router"}, {VnfProductName: "firewall"}}}), all},
		{"version", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall", Versions: []V{{VnfSoftwareVersion: "1.0"}}}}}), all},
		{"version other", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall", Versions: []V{{VnfSoftwareVersion: "2.0"}}}}}), nil},
		{"any version", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
			Versions: []V{{VnfSoftwareVersion: "2.0"}, {VnfSoftwareVersion: "1.0"}}}}}), all},
		{"vnfd version", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
			Versions: []V{{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.0", "1.1"}}}}}}), all},
		{"vnfd version other", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
			Versions: []V{{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.0"}}}}}}), nil},
		{"vnfd version under another software version", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
			Versions: []V{{VnfSoftwareVersion: "2.0", VnfdVersions: []string{"1.1"}}, {VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.0"}}}}}}), nil},
		{"second version entry matches", providers(P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
			Versions: []V{{VnfSoftwareVersion: "2.0", VnfdVersions: []string{"1.1"}}, {VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.1"}}}}}}), all},
		{"second product entry matches", providers(P{VnfProvider: "acme", VnfProducts: []Pr{
			{VnfProductName: "firewall", Versions: []V{{VnfSoftwareVersion: "2.0"}}},
			{VnfProductName: "firewall", Versions: []V{{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.1"}}}},
		}}), all},
		{"second provider entry matches", providers(
			P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "router"}}},
			P{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall"}}},
		), all},
		{"provider and vnfdId both apply", onInst(I{VnfdIDs: []string{"other"}, VnfProductsFromProviders: []P{{VnfProvider: "acme"}}}), nil},
		{"everything at once", &F{
			NotificationTypes: []string{model.NotifOpOcc, model.NotifIdentifierCreation},
			OperationTypes:    []model.Operation{model.OpInstantiate},
			OperationStates:   []model.OperationState{model.Completed},
			VnfInstanceSubscriptionFilter: &I{
				VnfdIDs: []string{"vnfd-fw"}, VnfInstanceIDs: []string{"inst-1"}, VnfInstanceNames: []string{"fw-east"},
				VnfProductsFromProviders: []P{{VnfProvider: "acme", VnfProducts: []Pr{{VnfProductName: "firewall",
					Versions: []V{{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.1"}}}}}}},
			},
		}, []*event{created, instDone}},
	}
	names := map[*event]string{created: "created", deleted: "deleted", instStart: "instantiate STARTING",
		instDone: "instantiate COMPLETED", scaleStart: "scale STARTING", healFailed: "heal FAILED_TEMP"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, ev := range all {
				want := false
				for _, w := range tt.want {
					want = want || w == ev
				}
				require.Equal(t, want, ev.matches(tt.filter), "%s", names[ev])
			}
		})
	}
}

// The filter attributes are matched against the instance, never the
// other way round: an instance without a name does not match a name filter.
func TestFilterMatchesUnnamedInstance(t *testing.T) {
	t.Parallel()
	inst := &model.VnfInstance{ID: "inst-1", VnfdID: "vnfd-fw", VnfProvider: "acme", VnfProductName: "firewall", VnfSoftwareVersion: "1.0", VnfdVersion: "1.1"}
	ev := identifierEvent(model.NotifIdentifierCreation, inst, time.Now())
	names := func(n ...string) *model.LifecycleChangeNotificationsFilter {
		return &model.LifecycleChangeNotificationsFilter{VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{VnfInstanceNames: n}}
	}
	require.False(t, ev.matches(names("fw-east")))
}
