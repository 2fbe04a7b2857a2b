"""IAM and directory service settings decidable offline: the IAM resource prefix, the directory
domain name and address, LDAP TLS and the reserved SSSD settings (ParallelCluster 3.16)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlparse

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, error, g, items, warning

IAM_PATH_RE = re.compile(r"^((/[a-zA-Z0-9_.,+@=-]+)+)/")
IAM_NAME_PREFIX_RE = re.compile(r"^[a-zA-Z0-9_.,+@=-]+$")
IAM_NAME_PREFIX_MAX = 30
IAM_PATH_MAX = 512
FQDN_RE = re.compile(r"^([a-zA-Z0-9_-]+)(\.[a-zA-Z0-9_-]+)*$")
LDAP_DN_RE = re.compile(r"^((DC|dc)=[a-zA-Z0-9_-]+)(,(DC|dc)=[a-zA-Z0-9_-]+)*$")
RESERVED_SSSD = {"id_provider": "ldap"}
DS = "DirectoryService"


def resource_prefix(ctx: ClusterContext) -> Iterator[Finding]:
    """IamResourcePrefixValidator: IAM path and name prefix format and length."""
    prefix = g(ctx.config, "iam", "resource_prefix")
    if not prefix:
        return
    path = "Iam/ResourcePrefix"
    code = "IamResourcePrefixValidator"
    if not (IAM_PATH_RE.match(prefix) or IAM_NAME_PREFIX_RE.match(prefix)):
        yield error(
            code,
            path,
            f"unsupported ResourcePrefix {prefix!r}",
            "use /path/ and/or a name prefix like 'hpc-'",
        )
        return
    iam_path, name = (
        (prefix.rsplit("/", 1)[0] + "/", prefix.rsplit("/", 1)[1]) if "/" in prefix else ("", prefix)
    )
    if name and len(name) > IAM_NAME_PREFIX_MAX:
        yield error(
            code,
            path,
            f"the name prefix {name!r} is longer than {IAM_NAME_PREFIX_MAX} characters",
            "shorten it",
        )
    if len(iam_path) > IAM_PATH_MAX:
        yield error(code, path, f"the IAM path is longer than {IAM_PATH_MAX} characters", "shorten it")


def directory_service(ctx: ClusterContext) -> Iterator[Finding]:
    """Directory service: domain name and address, LDAP TLS and reserved SSSD settings."""
    ds = g(ctx.config, "directory_service")
    if ds is None:
        return
    name = g(ds, "domain_name") or ""
    if not (FQDN_RE.match(name) or LDAP_DN_RE.match(name)):
        yield error(
            "DomainNameValidator",
            f"{DS}/DomainName",
            f"unsupported domain name format {name!r}",
            "use an FQDN (corp.example.com) or an LDAP DN (DC=corp,DC=example,DC=com)",
        )
    sssd = dict(items(ds, "additional_sssd_configs"))
    yield from _domain_addr(g(ds, "domain_addr") or "", sssd)
    tls = g(ds, "ldap_tls_req_cert")
    if tls is not None and tls not in ("hard", "demand"):
        yield warning(
            "LdapTlsReqCertValidator",
            f"{DS}/LdapTlsReqCert",
            f"LdapTlsReqCert {tls!r} does not validate certificates",
            "use hard or demand",
        )
    yield from _sssd(sssd, g(ds, "ldap_access_filter"))


def _domain_addr(addr: str, sssd: dict[str, str]) -> Iterator[Finding]:
    path, code = f"{DS}/DomainAddr", "DomainAddrValidator"
    for one in addr.split(","):
        scheme = urlparse(one.strip()).scheme
        if not scheme:
            yield warning(code, path, "no protocol in DomainAddr: assuming ldaps", "write ldaps://host")
        elif scheme not in ("ldaps", "ldap"):
            yield warning(code, path, f"unsupported protocol {scheme!r}", "use ldaps:// or ldap://")
        elif scheme == "ldap":
            extra = ""
            if str(sssd.get("ldap_auth_disable_tls_never_use_in_production", "false")).lower() != "true":
                extra = " and needs AdditionalSssdConfigs ldap_auth_disable_tls_never_use_in_production: true"
            yield warning(code, path, f"ldap:// is insecure{extra}", "use ldaps://")


def _sssd(sssd: dict[str, str], access_filter: str | None) -> Iterator[Finding]:
    path, code = f"{DS}/AdditionalSssdConfigs", "AdditionalSssdConfigsValidator"
    for key, allowed in RESERVED_SSSD.items():
        if key in sssd and str(sssd[key]) != allowed:
            yield error(
                code,
                f"{path}/{key}",
                f"cannot override the SSSD property {key!r}",
                f"its value must be {allowed!r}",
            )
    if "access_provider" in sssd and access_filter is not None and sssd["access_provider"] != "ldap":
        yield error(
            code,
            f"{path}/access_provider",
            "access_provider must be 'ldap' when LdapAccessFilter is set",
            "set access_provider: ldap or remove LdapAccessFilter",
        )


VALIDATORS = (resource_prefix, directory_service)
