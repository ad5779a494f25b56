"""Deployment: the local launcher (`python -m deploy.local`), Kubernetes and monitoring."""
