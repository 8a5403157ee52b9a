package notify

import (
	"slices"

	"github.com/vnfm-project/vnfm/internal/model"
)

// matches applies a subscription filter (SOL003 §4.5.3.4/§5.5.3.12): every
// present attribute must match; within an array, any value.
func (e *event) matches(f *model.LifecycleChangeNotificationsFilter) bool {
	if f == nil {
		return true
	}
	if len(f.NotificationTypes) > 0 && !slices.Contains(f.NotificationTypes, e.typ) {
		return false
	}
	// Operation types and states only concern op occ notifications.
	if e.op != nil {
		if len(f.OperationTypes) > 0 && !slices.Contains(f.OperationTypes, e.op.Operation) {
			return false
		}
		if len(f.OperationStates) > 0 && !slices.Contains(f.OperationStates, e.op.OperationState) {
			return false
		}
	}
	return instanceMatches(f.VnfInstanceSubscriptionFilter, e.inst)
}

func instanceMatches(f *model.VnfInstanceSubscriptionFilter, inst *model.VnfInstance) bool {
	if f == nil {
		return true
	}
	if len(f.VnfdIDs) > 0 && !slices.Contains(f.VnfdIDs, inst.VnfdID) {
		return false
	}
	if len(f.VnfInstanceIDs) > 0 && !slices.Contains(f.VnfInstanceIDs, inst.ID) {
		return false
	}
	if len(f.VnfInstanceNames) > 0 && !slices.Contains(f.VnfInstanceNames, inst.VnfInstanceName) {
		return false
	}
	if len(f.VnfProductsFromProviders) > 0 && !slices.ContainsFunc(f.VnfProductsFromProviders, func(p model.VnfProductsFromProvider) bool {
		return providerMatches(&p, inst)
	}) {
		return false
	}
	return true
}

func providerMatches(p *model.VnfProductsFromProvider, inst *model.VnfInstance) bool {
	if p.VnfProvider != inst.VnfProvider {
		return false
	}
	if len(p.VnfProducts) == 0 {
		return true
	}
	return slices.ContainsFunc(p.VnfProducts, func(pr model.VnfProduct) bool {
		if pr.VnfProductName != inst.VnfProductName {
			return false
		}
		if len(pr.Versions) == 0 {
			return true
		}
		return slices.ContainsFunc(pr.Versions, func(v model.VnfProductVersion) bool {
			if v.VnfSoftwareVersion != inst.VnfSoftwareVersion {
				return false
			}
			return len(v.VnfdVersions) == 0 || slices.Contains(v.VnfdVersions, inst.VnfdVersion)
		})
	})
}
