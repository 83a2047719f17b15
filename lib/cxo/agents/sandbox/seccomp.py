"""The sandbox's seccomp filter: no setuid/setgid bit and no extended attribute is ever set by agent-written code.

Inside the user namespace the agent owns the files it writes; when the runner is
root they are root's on the host. A mode with S_ISUID or S_ISGID (chmod, fchmod,
fchmodat, fchmodat2, and open, openat, creat, mkdir, mknod with O_CREAT) is
refused with EPERM, so no setuid-root file can appear on the host; extended
attributes (file capabilities are one) cannot be set at all. Syscalls whose
arguments a filter cannot read (openat2) and foreign ABIs (i386, x32) answer
ENOSYS, so nothing goes around the rules. The program is classic BPF, which
bubblewrap loads with `--seccomp FD`; it is built here, without libseccomp.
"""

import platform
import struct
from pathlib import Path

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS, ENOTSUP = 1, 38, 95
SETID = 0o6000
CREATES = 0o100 | 0o20000000  # O_CREAT | __O_TMPFILE (the same on x86_64 and the generic ABI)
X32_BIT = 0x40000000

# name: (x86_64 number, aarch64 number or None, flags argument or None, mode argument)
MODE_CALLS = {
    "open": (2, None, 1, 2), "creat": (85, None, None, 1), "openat": (257, 56, 2, 3),
    "chmod": (90, None, None, 1), "fchmod": (91, 52, None, 1), "fchmodat": (268, 53, None, 2),
    "fchmodat2": (452, 452, None, 2), "mkdir": (83, None, None, 1), "mkdirat": (258, 34, None, 2),
    "mknod": (133, None, None, 1), "mknodat": (259, 33, None, 2),
}
XATTR_CALLS = {"setxattr": (188, 5), "lsetxattr": (189, 6), "fsetxattr": (190, 7)}
NO_SYS_CALLS = {"openat2": (437, 437), "io_uring_setup": (425, 425)}

# classic BPF opcodes
LD_ABS, JEQ, JSET, JGE, RET = 0x20, 0x15, 0x45, 0x35, 0x06


def machine() -> str:
    return platform.machine()


def supported() -> bool:
    return machine() in AUDIT_ARCH


def program(arch: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions for `arch` (this machine's by default)."""
    arch = arch or machine()
    column = 0 if arch == "x86_64" else 1
    code: list = []

    def arg(index: int) -> int:  # the low 32 bits of syscall argument `index` (little endian)
        return 16 + 8 * index

    # Each entry: ("insn", code, jt, jf, k) with jt/jf as labels or offsets; labels resolved below.
    code.append(("ld", 4))
    code.append(("jeq", AUDIT_ARCH[arch], None, "foreign"))
    code.append(("ld", 0))
    if arch == "x86_64":
        code.append(("jge", X32_BIT, "nosys", None))
    for name, (x86, arm, flags, mode) in MODE_CALLS.items():
        number = x86 if column == 0 else arm
        if number is None:
            continue
        code.append(("jeq", number, None, f"next-{name}"))
        if flags is not None:
            code.append(("ld", arg(flags)))
            code.append(("jset", CREATES, None, "allow"))
        code.append(("ld", arg(mode)))
        code.append(("jset", SETID, "eperm", "allow"))
        code.append(("label", f"next-{name}"))
    for numbers in XATTR_CALLS.values():
        code.append(("jeq", numbers[column], "enotsup", None))
    for numbers in NO_SYS_CALLS.values():
        code.append(("jeq", numbers[column], "nosys", None))
    code.append(("label", "allow"))
    code.append(("ret", ALLOW))
    code.append(("label", "eperm"))
    code.append(("ret", ERRNO | EPERM))
    code.append(("label", "enotsup"))
    code.append(("ret", ERRNO | ENOTSUP))
    code.append(("label", "foreign"))
    code.append(("label", "nosys"))
    code.append(("ret", ERRNO | ENOSYS))
    return _assemble(code)


def _assemble(code: list) -> list[tuple[int, int, int, int]]:
    where, index = {}, 0
    for item in code:
        if item[0] == "label":
            where[item[1]] = index
        else:
            index += 1
    out, index = [], 0
    for item in code:
        kind = item[0]
        if kind == "label":
            continue

        def jump(target, at=index):
            if target is None:
                return 0
            offset = where[target] - at - 1
            assert 0 <= offset < 256, f"seccomp jump out of range: {target}"
            return offset

        if kind == "ld":
            out.append((LD_ABS, 0, 0, item[1]))
        elif kind == "ret":
            out.append((RET, 0, 0, item[1]))
        else:
            op = {"jeq": JEQ, "jset": JSET, "jge": JGE}[kind]
            out.append((op, jump(item[2]), jump(item[3]), item[1]))
        index += 1
    return out


def compiled(arch: str | None = None) -> bytes:
    """`struct sock_filter[]` as the kernel (and bwrap --seccomp) reads it."""
    return b"".join(struct.pack("<HBBI", *insn) for insn in program(arch))


def write(path: Path) -> Path:
    """The filter in a file bubblewrap reads through a descriptor; written once per place."""
    data = compiled()
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path
