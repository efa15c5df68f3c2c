"""Networks: topologies of devices, switches, hosts and memories; collectives with algorithms; shared links."""
