# Placeholder: vnfm implements the "mgmt-drivers-kubernetes" management driver natively in Go; this file is never executed.
