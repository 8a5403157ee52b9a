package conductor

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

func marshalJournal(j *journal) (json.RawMessage, error) {
	raw, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("marshal journal: %w", err)
	}
	return raw, nil
}

// problemFor turns a step error into the op occ's error attribute.
func problemFor(step string, err error) *model.ProblemDetails {
	pd := &model.ProblemDetails{Status: 500, Title: "LCM operation failed", Detail: err.Error()}
	if step != "" {
		pd.Detail = fmt.Sprintf("step %s: %s", step, err.Error())
	}
	var pe *driver.ProblemError
	var panicked *panicError
	switch {
	case errors.Is(err, errCancelled):
		pd.Status, pd.Title = 409, "Operation cancelled"
		pd.Detail = "the operation was cancelled on request"
		if step != "" {
			pd.Detail += " during step " + step
		}
	case errors.As(err, &panicked):
		pd.Title = "Driver failure"
		pd.Detail = fmt.Sprintf("step %s: the driver crashed (panic); see the vnfm log for details", step)
	case errors.As(err, &pe):
		if pe.Status != 0 {
			pd.Status = pe.Status
		}
		if pe.Title != "" {
			pd.Title = pe.Title
		}
	case errors.Is(err, driver.ErrNotSupported):
		pd.Status = 422
	}
	return pd
}
