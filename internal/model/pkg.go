package model

// Onboarding, operational and usage states of a VNF package (SOL005).
type (
	OnboardingState  string
	OperationalState string
	UsageState       string
)

const (
	PkgCreated    OnboardingState = "CREATED"
	PkgUploading  OnboardingState = "UPLOADING"
	PkgProcessing OnboardingState = "PROCESSING"
	PkgOnboarded  OnboardingState = "ONBOARDED"
	PkgError      OnboardingState = "ERROR"

	PkgEnabled  OperationalState = "ENABLED"
	PkgDisabled OperationalState = "DISABLED"

	PkgInUse    UsageState = "IN_USE"
	PkgNotInUse UsageState = "NOT_IN_USE"
)

// Checksum of a package or artifact.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Hash      string `json:"hash"`
}

// VnfPackageSoftwareImageInfo describes an image the VNFD names.
type VnfPackageSoftwareImageInfo struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Provider        string         `json:"provider"`
	Version         string         `json:"version"`
	Checksum        Checksum       `json:"checksum"`
	ContainerFormat string         `json:"containerFormat"`
	DiskFormat      string         `json:"diskFormat"`
	CreatedAt       string         `json:"createdAt,omitempty"`
	MinDisk         int64          `json:"minDisk"`
	MinRAM          int64          `json:"minRam"`
	Size            int64          `json:"size"`
	UserMetadata    map[string]any `json:"userMetadata,omitempty"`
	ImagePath       string         `json:"imagePath"`
}

// VnfPackageArtifactInfo describes a non-image artifact in the package.
type VnfPackageArtifactInfo struct {
	ArtifactPath string         `json:"artifactPath"`
	Checksum     Checksum       `json:"checksum"`
	Metadata     map[string]any `json:"metadata,omitempty"`
}

// VnfPkgInfo is the "Individual VNF package" resource (SOL005 v2.6.1, the
// subset Tacker serves).
type VnfPkgInfo struct {
	ID                       string                        `json:"id"`
	VnfdID                   string                        `json:"vnfdId,omitempty"`
	VnfProvider              string                        `json:"vnfProvider,omitempty"`
	VnfProductName           string                        `json:"vnfProductName,omitempty"`
	VnfSoftwareVersion       string                        `json:"vnfSoftwareVersion,omitempty"`
	VnfdVersion              string                        `json:"vnfdVersion,omitempty"`
	Checksum                 *Checksum                     `json:"checksum,omitempty"`
	SoftwareImages           []VnfPackageSoftwareImageInfo `json:"softwareImages,omitempty"`
	AdditionalArtifacts      []VnfPackageArtifactInfo      `json:"additionalArtifacts,omitempty"`
	OnboardingState          OnboardingState               `json:"onboardingState"`
	OperationalState         OperationalState              `json:"operationalState"`
	UsageState               UsageState                    `json:"usageState"`
	UserDefinedData          map[string]any                `json:"userDefinedData,omitempty"`
	OnboardingFailureDetails *ProblemDetails               `json:"onboardingFailureDetails,omitempty"`
	Links                    *VnfPkgLinks                  `json:"_links,omitempty"`
}

// VnfPkgLinks is VnfPkgInfo._links.
type VnfPkgLinks struct {
	Self           Link `json:"self"`
	Vnfd           Link `json:"vnfd"`
	PackageContent Link `json:"packageContent"`
}
