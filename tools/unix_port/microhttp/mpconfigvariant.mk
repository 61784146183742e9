# The microhttp variant of the unix port (see mpconfigvariant.h). Every *.c file in this
# directory is compiled in (ports/unix/Makefile: $(wildcard $(VARIANT_DIR)/*.c)).
# FROZEN_MANIFEST is given by the caller, tools/provision_micropython.py's build_port().
