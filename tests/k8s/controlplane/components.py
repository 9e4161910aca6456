"""The command lines of the control plane's processes, and why each flag is there."""

from __future__ import annotations

from pathlib import Path

from .certs import Pki

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


def etcd(binary: Path, data_dir: Path, port: int, peer_port: int) -> list[str]:
    client, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
    return [
        str(binary),
        "--data-dir", str(data_dir),
        "--listen-client-urls", client,
        "--advertise-client-urls", client,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"default={peer}",
        # A test cluster's data is thrown away: fsync only costs time.
        "--unsafe-no-fsync",
        "--log-level", "warn",
    ]  # fmt: skip


def apiserver(binary: Path, run_dir: Path, pki: Pki, port: int, etcd_port: int) -> list[str]:
    return [
        str(binary),
        "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
        "--bind-address", "127.0.0.1",
        "--advertise-address", "127.0.0.1",
        "--secure-port", str(port),
        "--insecure-port", "0",
        "--tls-cert-file", str(pki.apiserver_cert),
        "--tls-private-key-file", str(pki.apiserver_key),
        "--client-ca-file", str(pki.ca_cert),
        "--token-auth-file", str(run_dir / "tokens.csv"),
        "--anonymous-auth=false",
        "--authorization-mode", "Node,RBAC",
        "--enable-admission-plugins", "NodeRestriction",
        "--service-account-key-file", str(pki.service_account_pub),
        "--service-account-signing-key-file", str(pki.service_account_key),
        "--service-account-issuer", SERVICE_ACCOUNT_ISSUER,
        "--service-cluster-ip-range", "10.96.0.0/24",
        # It would refuse 127.0.0.1 as the address of its own Endpoints.
        "--endpoint-reconciler-type", "none",
        # Port-forward dials the node's InternalIP, not its name through DNS.
        "--kubelet-preferred-address-types", "InternalIP",
        "--kubelet-certificate-authority", str(pki.ca_cert),
        "--kubelet-client-certificate", str(pki.kubelet_client_cert),
        "--kubelet-client-key", str(pki.kubelet_client_key),
        "--audit-policy-file", str(run_dir / "audit-policy.yaml"),
        "--audit-log-path", str(run_dir / "audit.log"),
        "--audit-log-format", "json",
        "--profiling=false",
        "--cert-dir", str(run_dir / "apiserver-certs"),
        "--logtostderr",
        "--v", "1",
    ]  # fmt: skip


def controller_manager(binary: Path, kubeconfig: Path, pki: Pki) -> list[str]:
    return [
        str(binary),
        "--kubeconfig", str(kubeconfig),
        "--leader-elect=false",
        "--use-service-account-credentials",
        "--service-account-private-key-file", str(pki.service_account_key),
        "--root-ca-file", str(pki.ca_cert),
        "--cluster-signing-cert-file", str(pki.ca_cert),
        "--cluster-signing-key-file", str(pki.ca_key),
        # No serving endpoints: they would need fixed ports.
        "--port", "0",
        "--secure-port", "0",
        # Node health is judged from the agent's leases; a short period lifts the
        # not-ready taints of fresh nodes sooner.
        "--node-monitor-period", "1s",
        # Enough request budget to replace 100 pods at once.
        "--kube-api-qps", "200",
        "--kube-api-burst", "400",
        "--logtostderr",
        "--v", "1",
    ]  # fmt: skip


def scheduler(binary: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        "--kubeconfig", str(kubeconfig),
        "--leader-elect=false",
        "--port", "0",
        "--secure-port", "0",
        "--logtostderr",
        "--v", "1",
    ]  # fmt: skip
