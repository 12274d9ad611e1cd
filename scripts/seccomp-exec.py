#!/usr/bin/python3
"""Runs a command under the seccomp rules a systemd unit asks for, the way systemd builds them,
for hosts where systemd is not PID 1 (containers, CI). Used by scripts/systemd-check.

    seccomp-exec.py UNIT -- COMMAND [ARGS...]

From the unit's [Service] lines: SystemCallFilter= (allow-list, then ~deny lines, groups
expanded with `systemd-analyze syscall-filter`, plus @default which systemd always allows),
SystemCallErrorNumber=, SystemCallArchitectures=native, RestrictAddressFamilies= (allow-list:
other families get EAFNOSUPPORT), MemoryDenyWriteExecute= (no W+X mappings, no mprotect to X,
no SHM_EXEC) and RestrictNamespaces=yes (no setns/unshare, no clone with namespace flags,
clone3 answers ENOSYS so that glibc falls back to clone). Needs python3-seccomp; the caller
sets NoNewPrivileges (setpriv --no-new-privs) or runs with CAP_SYS_ADMIN.
"""
import errno
import os
import subprocess
import sys

import seccomp

PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
AF = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
CLONE_NS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
SPECIAL = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat", "clone", "clone3", "unshare", "setns"}


def service_settings(path):
    """The [Service] assignments, in order, as (key, value) pairs."""
    out, section = [], None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                out.append((key.strip(), value.strip()))
    return out


def expand(name):
    """The system calls of a name or @group, groups expanded recursively."""
    if not name.startswith("@"):
        return {name}
    text = subprocess.run(["systemd-analyze", "syscall-filter", name],
                          capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in text.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item)
    return calls


def known(name):
    try:
        return seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0
    except (ValueError, RuntimeError):
        return False


def main():
    unit = sys.argv[1]
    if sys.argv[2] != "--" or len(sys.argv) < 4:
        sys.exit(__doc__)
    command = sys.argv[3:]
    settings = service_settings(unit)
    allowed, allow_list = set(), None
    for key, value in settings:
        if key != "SystemCallFilter" or not value:
            continue
        deny = value.startswith("~")
        names = set().union(*(expand(n) for n in value.lstrip("~").split()))
        if allow_list is None:
            allow_list = not deny
            if allow_list:
                allowed |= expand("@default")
        if deny:
            allowed -= names
        else:
            allowed |= names
    if not allow_list:
        sys.exit("this emulation handles allow-list SystemCallFilter= only")
    error = dict(settings).get("SystemCallErrorNumber", "")
    default = seccomp.ERRNO(getattr(errno, error)) if error else seccomp.KILL_PROCESS
    families = dict(settings).get("RestrictAddressFamilies", "").split()
    mdwe = dict(settings).get("MemoryDenyWriteExecute") == "yes"
    no_ns = dict(settings).get("RestrictNamespaces") == "yes"

    f = seccomp.SyscallFilter(defaction=default)
    for name in sorted(allowed - SPECIAL):
        if known(name):
            f.add_rule(seccomp.ALLOW, name)
    if "socket" in allowed:
        if families:
            ok = sorted({AF[a] for a in families})
            for fam in ok:
                f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, fam))
            nope = seccomp.ERRNO(errno.EAFNOSUPPORT)
            bounds = [-1] + ok + [2**32]
            # One comparison per argument and rule (libseccomp): the gaps between allowed
            # families one value at a time, the open ends as ranges.
            for lo, hi in zip(bounds, bounds[1:]):
                if lo < 0:
                    f.add_rule(nope, "socket", seccomp.Arg(0, seccomp.LT, hi))
                elif hi >= 2**32:
                    f.add_rule(nope, "socket", seccomp.Arg(0, seccomp.GT, lo))
                else:
                    for fam in range(lo + 1, hi):
                        f.add_rule(nope, "socket", seccomp.Arg(0, seccomp.EQ, fam))
        else:
            f.add_rule(seccomp.ALLOW, "socket")
    for name in ("mmap",):
        if name in allowed:
            if mdwe:
                wx = PROT_WRITE | PROT_EXEC
                for v in (0, PROT_WRITE, PROT_EXEC):
                    f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, wx, v))
            else:
                f.add_rule(seccomp.ALLOW, name)
    for name in ("mprotect", "pkey_mprotect"):
        if name in allowed and known(name):
            if mdwe:
                f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, 0))
            else:
                f.add_rule(seccomp.ALLOW, name)
    if "shmat" in allowed:
        if mdwe:
            f.add_rule(seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, 0))
        else:
            f.add_rule(seccomp.ALLOW, "shmat")
    if "clone" in allowed:
        if no_ns:
            f.add_rule(seccomp.ALLOW, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NS, 0))
        else:
            f.add_rule(seccomp.ALLOW, "clone")
    if "clone3" in allowed and known("clone3"):
        f.add_rule(seccomp.ERRNO(errno.ENOSYS) if no_ns else seccomp.ALLOW, "clone3")
    for name in ("unshare", "setns"):
        if name in allowed and not no_ns:
            f.add_rule(seccomp.ALLOW, name)
    f.load()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
