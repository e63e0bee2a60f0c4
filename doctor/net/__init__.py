"""DNS and host-vantage probes: one resolver (:mod:`doctor.net.dns`), the Redis/MySQL connection targets
(:mod:`doctor.net.targets`) and the probes run from the doctor's own host (:mod:`doctor.net.hostprobe`).
Import the submodules directly."""
