# kaspr install helper: the distributions the image already has (included after helper.py).
# With imagePackages: protect the installer resolves with them as constraints, so user packages
# never change the versions of the framework and its dependencies; their digest joins the env
# key, so an image with another set never uses an env built against this one.


def canonical_name(name):
    """PEP 503: runs of -, _ and . become one -, lower case."""
    parts = name.lower().replace("_", "-").replace(".", "-").split("-")
    return "-".join(p for p in parts if p)


def image_site_dirs():
    """The image site-packages directories, as the app python3 sees them. The helper runs with
    -S, so site has not run and sys.prefix ignores a venv (e.g. /opt/venv/bin/python3): find its
    pyvenv.cfg as site does, without adding anything to sys.path or running .pth files."""
    import site
    prefixes, user_site = list(site.PREFIXES), True
    exe_dir = os.path.dirname(sys.executable)
    for conf in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(os.path.dirname(exe_dir), "pyvenv.cfg")):
        if os.path.isfile(conf):
            with_system = False
            with open(conf) as f:
                for line in f:
                    key, _, value = line.partition("=")
                    if key.strip().lower() == "include-system-site-packages":
                        with_system = value.strip().lower() == "true"
            prefixes = [os.path.dirname(conf)] + (prefixes if with_system else [])
            user_site = with_system
            break
    dirs = list(site.getsitepackages(prefixes))
    if user_site:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if os.path.isdir(d)]


def image_distributions():
    """{canonical name: (name, version)} of every distribution in the image site dirs, read from
    the *.dist-info / *.egg-info directory names (no metadata is parsed: this runs on every
    start)."""
    found = {}
    for d in image_site_dirs():
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in sorted(entries):
            for suffix in (".dist-info", ".egg-info"):
                if entry.endswith(suffix):
                    parts = entry[:-len(suffix)].split("-")
                    if len(parts) >= 2 and parts[0] and parts[1]:
                        name = canonical_name(parts[0])
                        found.setdefault(name, (name, parts[1]))
    return found


def fnv64(text):
    """FNV-1a, 64 bits: a stable digest without importing hashlib (3 ms on the warm path)."""
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def image_digest():
    """8 hex digits naming the image set of name==version."""
    dists = image_distributions()
    return fnv64("\n".join("%s==%s" % (k, v[1]) for k, v in sorted(dists.items())))[:8]


def protecting():
    return env("KASPR_IMAGE_PACKAGES") == "protect"


def write_constraints(path):
    """The image distributions as pins, one a line, for pip -c / uv --constraint."""
    pins = ["%s==%s" % v for _k, v in sorted(image_distributions().items())]
    with open(path, "w") as f:
        f.write("\n".join(pins) + "\n")


def conflict_detail(text):
    """For a conflict under protect: which image package stood in the way, its version, and the
    requirement that wanted another one; None when no image package is named. Reads pip
    ("X 2.0 depends on Y>=2.0") and uv ("Because X>=2.0 depends on Y>=2.0 and Y==1.0, ...")."""
    dists = image_distributions()
    for line in text.splitlines():
        who, found, rest = line.partition(" depends on ")
        if not found:
            continue
        wanted = rest.split(" and ")[0].split(",")[0].strip()
        name = canonical_name_words(wanted.lower())
        for key, (shown, version) in sorted(dists.items()):
            if key in name and wanted.replace(" ", "") != "%s==%s" % (shown, version):
                who = who.strip().split("Because ")[-1].split("cause: ")[-1].strip()
                return ("the image provides %s %s, but %s depends on %s (imagePackages: protect "
                        "keeps the image version; set imagePackages: override to replace it)"
                        % (shown, version, who, wanted))
    return None


def canonical_name_words(text):
    """The words of text as canonical names (for finding a package name in installer output)."""
    out = set()
    word = ""
    for c in text + " ":
        if c.isalnum() or c in "-_.":
            word += c
        else:
            if word:
                out.add(canonical_name(word.strip(".")))
            word = ""
    return out


def shadow_warnings(env_dir):
    """Under override: each image distribution the env holds at another version."""
    image = image_distributions()
    out = []
    for entry in distributions(env_dir):
        name, _, version = entry.partition("==")
        mine = image.get(canonical_name(name))
        if mine and mine[1] != version:
            out.append("%s %s from the image is shadowed by %s from pythonPackages "
                       "(imagePackages: override)" % (mine[0], mine[1], version))
    return out
