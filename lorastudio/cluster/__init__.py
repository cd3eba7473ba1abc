"""Scale-out beyond one machine: several nodes with torchrun, and Kubeflow PyTorchJobs on
Kubernetes."""
