"""Deterministic construction of simulated images and containers."""

from __future__ import annotations

import random
from collections.abc import Container
from dataclasses import dataclass

from podman_exporter.podman.gotext import NS
from podman_exporter.sim.model import (
    BLK_IN,
    BLK_OUT,
    CPU,
    NET_IN,
    NET_OUT,
    SYS,
    SimContainer,
    SimImage,
)

MIB = 1024 * 1024
_ADJECTIVES = (  # noqa: SIM905
    "admiring adoring agitated amazing angry awesome blissful bold boring brave clever cocky "
    "compassionate competent condescending confident cranky dazzling determined distracted "
    "dreamy eager ecstatic elastic elated elegant eloquent epic fervent festive flamboyant "
    "focused friendly frosty gallant gifted goofy gracious happy hardcore heuristic hopeful "
    "hungry infallible inspiring jolly jovial keen kind laughing loving lucid mystifying "
    "modest musing naughty nervous nifty nostalgic objective optimistic peaceful pedantic "
    "pensive practical priceless quirky quizzical relaxed reverent romantic sad serene sharp "
    "silly sleepy stoic stupefied suspicious tender thirsty trusting unruffled upbeat vibrant "
    "vigilant vigorous wizardly wonderful xenodochial youthful zealous zen"
).split()
_SURNAMES = (  # noqa: SIM905
    "albattani allen almeida archimedes ardinghelli aryabhata austin babbage banach bardeen "
    "bartik bassi beaver bell bhabha bhaskara blackwell bohr booth borg bose boyd brahmagupta "
    "brattain brown carson chandrasekhar clarke colden cori cray curie darwin davinci "
    "dijkstra dubinsky easley edison einstein elion engelbart euclid euler fermat fermi "
    "feynman franklin galileo gates goldberg goldstine goldwasser golick goodall hamilton "
    "hawking heisenberg hermann heyrovsky hodgkin hoover hopper hugle hypatia jackson jang "
    "jennings jepsen johnson joliot jones kalam kare keller kepler khorana kilby kirch knuth "
    "kowalevski lalande lamarr lamport leakey leavitt lewin lichterman liskov lovelace "
    "lumiere mahavira mayer mccarthy mcclintock mclean mcnulty meitner meninsky mestorf "
    "minsky mirzakhani morse murdock newton nightingale nobel noether northcutt noyce panini "
    "pare pasteur payne perlman pike poincare poitras ptolemy raman ramanujan ride ritchie "
    "roentgen rosalind saha sammet shaw shirley shockley sinoussi snyder spence stallman "
    "stonebraker swanson swartz swirles tesla thompson torvalds turing varahamihira "
    "visvesvaraya volhard wescoff wiles williams wilson wing wozniak wright yalow yonath"
).split()
# repository, tags, command, container port
_CATALOGUE = (
    ("docker.io/library/nginx", ("latest", "1.14"), ("nginx", "-g", "daemon off;"), "80"),
    ("docker.io/library/redis", ("4.0", "latest"), ("redis-server",), "6379"),
    ("docker.io/library/postgres", ("10.4",), ("postgres",), "5432"),
    ("docker.io/library/alpine", ("3.7", "latest"), ("sleep", "infinity"), ""),
    ("docker.io/library/busybox", ("latest",), ("sh", "-c", "while :; do sleep 5; done"), ""),
    ("docker.io/library/httpd", ("2.4",), ("httpd-foreground",), "80"),
    ("docker.io/library/python", ("3.6-slim",), ("python3", "-m", "http.server"), "8000"),
    ("quay.io/prometheus/node-exporter", ("v0.16.0",), ("/bin/node_exporter",), "9100"),
    ("registry.fedoraproject.org/fedora", ("28",), ("/usr/sbin/init",), ""),
    ("docker.io/library/mariadb", ("10.3",), ("mysqld",), "3306"),
    ("docker.io/library/memcached", ("1.5",), ("memcached",), "11211"),
    ("docker.io/library/rabbitmq", ("3.7",), ("rabbitmq-server",), "5672"),
)
HOSTILE_NAMES = (
    'quote"name',
    "back\\slash",
    "new\nline",
    "ünïcødé-容器",
    "emoji-🐳",
    "tab\tand space",
    "{brace}=a,b",
)
HOSTILE_LABELS = {
    "id": "clash-with-id",
    "name": 'clash"with\\name',
    "image": "clash-with-image",
    "state": "clash-with-state",
    "a.b": "dot",
    "a-b": "dash",
    "a_b": "underscore",
    "9lives": "leading digit",
    "__meta": "reserved prefix",
    "ünï": "unicode key",
    "text": 'multi\nline "quoted" \\ value ✓',
}
HOSTILE_TAGS = (
    'localhost/we"ird\\repo:tag',
    "localhost/ünïcødé/画像:最新",
    "localhost/new\nline:1",
)
EXIT_CODES = (0, 0, 0, 0, 0, 1, 2, 125, 127, 137, 143)


def new_id(rng: random.Random) -> str:
    """Return a 64-hex-digit id."""
    return f"{rng.getrandbits(256):064x}"


@dataclass(slots=True)
class Builder:
    """Makes images and containers from one random stream."""

    rng: random.Random
    host_mem: int
    hostile: bool

    def images(self, count: int, wall0_ns: int) -> list[SimImage]:
        """Return ``count`` images: tagged first, then untagged ones (``[]`` or ``<none>``)."""
        rng = self.rng
        untagged = max(1, count // 8) if count >= 3 else 0
        refs = [f"{repo}:{tag}" for repo, tags, _, _ in _CATALOGUE for tag in tags]
        if self.hostile:
            refs[3:3] = HOSTILE_TAGS
        out: list[SimImage] = []
        for i in range(count):
            if i < count - untagged:
                ref = refs[i] if i < len(refs) else f"registry.example.com/team{i % 7}/app{i}:v{i}"
                tags = [ref]
                if i % 5 == 4:
                    tags.append(ref.rsplit(":", 1)[0] + ":stable")
            else:
                tags = [] if i % 2 else ["<none>:<none>"]
            repo = tags[0].rsplit(":", 1)[0] if tags and tags[0] != "<none>:<none>" else ""
            image_id = new_id(rng)
            created = wall0_ns - rng.randrange(3600, 200 * 86400) * NS - rng.randrange(NS)
            out.append(
                SimImage(
                    id=image_id,
                    tags=tags,
                    digests=[f"{repo}@sha256:{new_id(rng)}"] if repo else [],
                    created_ns=created,
                    virtual_size=rng.randrange(1 * MIB, 900 * MIB),
                    labels={"maintainer": "sim"} if i % 3 == 0 else {},
                )
            )
        return out

    def pick_image(self, images: list[SimImage]) -> SimImage:
        """Return an image for a new container; some images stay unused."""
        tagged = [im for im in images if im.tags and im.tags[0] != "<none>:<none>"]
        pool = tagged[: max(1, (len(tagged) * 3 + 3) // 4)] or images
        untagged = [im for im in images if im not in tagged]
        if untagged and self.rng.random() < 0.03:
            return untagged[0]
        # Skewed towards the first images, so some images are shared by many.
        return pool[min(len(pool) - 1, int(len(pool) * self.rng.random() ** 2))]

    def name(self, taken: Container[str]) -> str:
        """Return a container name not in ``taken``."""
        rng = self.rng
        if self.hostile and rng.random() < 0.2:
            base = rng.choice(HOSTILE_NAMES)
        else:
            base = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}"
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}{k}"
        return name

    def container(
        self, image: SimImage, name: str, status: str, created_ns: int, mono_ns: int | None
    ) -> SimContainer:
        """Return a container of ``image`` with its usage rates drawn."""
        rng = self.rng
        spec = next((c for c in _CATALOGUE if image.tags and image.tags[0].startswith(c[0])), None)
        command = list(spec[2]) if spec else ["/entrypoint.sh"]
        port = spec[3] if spec else ""
        ports = []
        if port and rng.random() < 0.6:
            host = str(rng.randrange(1024, 65000))
            ports.append(
                {"host_port": host, "host_ip": "", "protocol": "tcp", "container_port": port}
            )
        mounts = []
        if rng.random() < 0.4:
            mounts.append(
                {
                    "destination": "/data",
                    "type": "bind",
                    "source": f"/srv/{name[:12]}",
                    "options": ["rbind", "rw"],
                }
            )
        labels = {
            "app": name.rsplit("_", maxsplit=1)[-1][:20],
            "tier": rng.choice(("web", "db", "batch")),
        }
        if rng.random() < 0.25:
            labels = {}
        if self.hostile and rng.random() < 0.25:
            labels = dict(HOSTILE_LABELS)
        busy = rng.random() < 0.04
        cores = rng.uniform(0.8, 1.9) if busy else rng.uniform(0.001, 0.05)
        rates = [0.0] * 6
        rates[CPU] = cores * NS
        rates[SYS] = rates[CPU] * rng.uniform(0.05, 0.3)
        rates[NET_IN], rates[NET_OUT] = rng.uniform(50, 200_000), rng.uniform(50, 150_000)
        rates[BLK_IN], rates[BLK_OUT] = rng.uniform(0, 20_000), rng.uniform(0, 50_000)
        limited = rng.random() < 0.5
        limit = rng.choice((64, 128, 256, 512, 1024, 2048)) * MIB if limited else self.host_mem
        base = int(limit * rng.uniform(0.2, 0.7)) if limited else rng.randrange(8 * MIB, 600 * MIB)
        return SimContainer(
            id=new_id(rng),
            name=name,
            image=image.tags[0] if image.tags and image.tags[0] != "<none>:<none>" else image.id,
            image_id=image.id,
            command=command,
            created_ns=created_ns,
            created_mono_ns=mono_ns,
            status=status,
            exit_code=rng.choice(EXIT_CODES) if status == "exited" else 0,
            ports=ports,
            mounts=mounts,
            labels=labels,
            rootfs_size=image.virtual_size,
            rw_size=rng.randrange(0, 50 * MIB),
            rates=rates,
            mem_base=base,
            mem_limit=limit,
            mem_amp=rng.uniform(0.02, 0.15),
            phase=rng.uniform(0, 6.283),
            pids=rng.randrange(1, 40),
            pid=rng.randrange(1000, 400000) if status in ("running", "paused") else 0,
        )
