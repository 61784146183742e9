// The microhttp variant of MicroPython's unix port: the standard variant (ports/unix/variants/
// standard/mpconfigvariant.h) plus a ROMFS partition, so the virtual board can run .mpy files in
// place from a read-only, memory-mapped image as a board with a romfs partition does.
// Built out of tree by tools/provision_micropython.py (make VARIANT_DIR=this directory).

// The standard variant's feature level and its unix extras. The path is relative to ports/unix,
// which the port's Makefile puts on the include path (INC += -I.).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#include "variants/mpconfigvariant_common.h"

// vfs.rom_ioctl(): mpconfigvariant_common.h enables VfsRom but sets this to 0. With it on,
// py/runtime.c's mp_init() mounts segment 0 at /rom when it holds a ROMFS image.
#undef MICROPY_VFS_ROM_IOCTL
#define MICROPY_VFS_ROM_IOCTL (1)

// mp_vfs_rom_ioctl() comes from vfs_rom_file.c in this directory (a file-backed partition), not
// from the fixed empty image ports/unix/main.c defines for the coverage variant; the source
// patch tools/unix_port/main-c-variant-rom-ioctl.patch makes main.c skip its own on this macro.
#define MICROHTTP_VARIANT_VFS_ROM_IOCTL (1)
