"""DNS and host-vantage probes: one resolver (:mod:`doctor.net.dns`) and the Redis/MySQL probes run from
the doctor's own host (:mod:`doctor.net.hostprobe`). Import the submodules directly."""
