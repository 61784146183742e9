// vfs.rom_ioctl() for the microhttp variant of the unix port: a ROMFS partition backed by a file.
//
// Why a file mapped into memory: on a board the romfs partition is flash that the CPU maps into
// its address space, so the bytecode and the qstr strings of a .mpy imported from /rom are used
// where they lie (py/persistentcode.c: mp_reader_try_read_rom, qstr_from_strn_static) and take no
// GC heap. Here the partition is a file mapped with mmap(MAP_SHARED, PROT_READ): the same use in
// place, outside the GC heap, and the contents survive the virtual board's resets (each reset is
// a new process that maps the same file).
//
// Configuration, read at the first call (py/runtime.c's mp_init() makes it, to mount /rom):
//   MICROHTTP_ROMFS        the partition's file; created if missing
//   MICROHTTP_ROMFS_BYTES  the partition's size, a multiple of ROMFS_ERASE_BLOCK_BYTES; a shorter
//                          file is extended with 0xff bytes (erased flash). Default: the file's size.
// Without MICROHTTP_ROMFS there is no partition and rom_ioctl(1) answers 0, as stock firmware
// without a romfs partition does.
//
// Commands (numbers from extmod/vfs.h, MP_VFS_ROM_IOCTL_*; their use by mpremote's `romfs`):
//   (1)                      number of segments: 1, or 0 without a partition
//   (2, id)                  the segment: a read-only memoryview of the whole partition
//   (3, id, len)             write-prepare: erase the blocks covering [0, len) to 0xff,
//   (3, id, offset, len)     or [offset, offset + len); returns the minimum write size
//   (4, id, offset, buf)     write buf at offset. As on NOR flash a write only clears bits (each
//                            byte becomes old & new), so data written over unerased bytes is
//                            wrong, as it would be on a board
//   (5, id)                  write-complete: the file is flushed to the disk
//   (6, id)                  the erase block size (the number later MicroPython versions give
//                            this query, which mpremote 1.29 asks to size its write-prepares)
// Errors are negative errno values, as the ports return them (ports/stm32/vfs_rom_ioctl.c).

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/runtime.h"
#include "extmod/vfs.h"

#if MICROPY_VFS_ROM_IOCTL

// A flash sector on the ESP32 and the RP2040/RP2350: the unit a write-prepare erases.
#define ROMFS_ERASE_BLOCK_BYTES (4096)
// The smallest write the partition takes, as ports/esp8266/vfs_rom_ioctl.c reports for SPI flash.
#define ROMFS_MIN_WRITE_BYTES (4)
// Not in 1.25's extmod/vfs.h (it stops at 5); mpremote 1.29 asks it (_do_romfs_query_partition).
#define ROMFS_IOCTL_GET_BLOCK_SIZE (6)

// The segment handed to Python: typecode 'B' without MP_OBJ_ARRAY_TYPECODE_FLAG_RW is read-only,
// so code on the board changes the partition only through the write commands, as on flash.
static MP_DEFINE_MEMORYVIEW_OBJ(romfs_segment, 'B', 0, 0, NULL);
static int romfs_fd = -1;
static size_t romfs_bytes;
static bool romfs_configured;

// One line on stderr (the virtual board's log): what is wrong, and that the board goes on without.
static void romfs_complain(const char *path, const char *what, int error) {
    fprintf(stderr, "MICROHTTP_ROMFS=%s: %s%s%s (the board runs without a ROMFS partition)\n",
        path, what, error ? ": " : "", error ? strerror(error) : "");
}

// Fill [start, end) of the file with 0xff, the value of erased flash.
static int romfs_erase_range(size_t start, size_t end) {
    static uint8_t erased[ROMFS_ERASE_BLOCK_BYTES];
    memset(erased, 0xff, sizeof(erased));
    while (start < end) {
        size_t n = end - start < sizeof(erased) ? end - start : sizeof(erased);
        ssize_t done = pwrite(romfs_fd, erased, n, (off_t)start);
        if (done <= 0) {
            return -MP_EIO;
        }
        start += (size_t)done;
    }
    return 0;
}

// Open and map the partition once; false when there is none (not configured, or unusable).
static bool romfs_present(void) {
    if (romfs_configured) {
        return romfs_segment.items != NULL;
    }
    romfs_configured = true;
    const char *path = getenv("MICROHTTP_ROMFS");
    if (path == NULL || *path == '\0') {
        return false;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        romfs_complain(path, "cannot open", errno);
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        romfs_complain(path, "cannot stat", errno);
        close(fd);
        return false;
    }
    size_t bytes = (size_t)st.st_size;
    const char *size_text = getenv("MICROHTTP_ROMFS_BYTES");
    if (size_text != NULL && *size_text != '\0') {
        char *end;
        errno = 0;
        unsigned long long wanted = strtoull(size_text, &end, 0);
        if (errno != 0 || *end != '\0' || wanted == 0 || wanted > SIZE_MAX) {
            romfs_complain(path, "MICROHTTP_ROMFS_BYTES is not a size in bytes", 0);
            close(fd);
            return false;
        }
        bytes = (size_t)wanted;
    }
    if (bytes == 0 || bytes % ROMFS_ERASE_BLOCK_BYTES != 0) {
        romfs_complain(path, "the partition's size must be a non-zero multiple of 4096 bytes", 0);
        close(fd);
        return false;
    }
    romfs_fd = fd;
    if ((size_t)st.st_size < bytes && romfs_erase_range((size_t)st.st_size, bytes) != 0) {
        romfs_complain(path, "cannot extend the file to the partition's size", errno);
        close(fd);
        romfs_fd = -1;
        return false;
    }
    void *mapped = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) {
        romfs_complain(path, "cannot map", errno);
        close(fd);
        romfs_fd = -1;
        return false;
    }
    romfs_bytes = bytes;
    romfs_segment.items = mapped;
    romfs_segment.len = bytes;
    return true;
}

// The checked byte range [offset, offset + len) of the partition, or false if it lies outside.
static bool romfs_range_ok(mp_int_t offset, mp_int_t len) {
    return offset >= 0 && len >= 0 && (size_t)offset <= romfs_bytes
           && (size_t)len <= romfs_bytes - (size_t)offset;
}

static mp_obj_t romfs_write_prepare(mp_int_t offset, mp_int_t len) {
    if (!romfs_range_ok(offset, len)) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    // Flash erases whole blocks: the ones the range touches.
    size_t start = (size_t)offset / ROMFS_ERASE_BLOCK_BYTES * ROMFS_ERASE_BLOCK_BYTES;
    size_t end = ((size_t)offset + (size_t)len + ROMFS_ERASE_BLOCK_BYTES - 1)
        / ROMFS_ERASE_BLOCK_BYTES * ROMFS_ERASE_BLOCK_BYTES;
    int ret = romfs_erase_range(start, end);
    if (ret != 0) {
        return MP_OBJ_NEW_SMALL_INT(ret);
    }
    return MP_OBJ_NEW_SMALL_INT(ROMFS_MIN_WRITE_BYTES);
}

static mp_obj_t romfs_write(mp_int_t offset, mp_obj_t data) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(data, &buf, MP_BUFFER_READ);
    if (!romfs_range_ok(offset, (mp_int_t)buf.len)) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    const uint8_t *current = (const uint8_t *)romfs_segment.items + offset;
    const uint8_t *incoming = buf.buf;
    uint8_t programmed[256];
    size_t done = 0;
    while (done < buf.len) {
        size_t n = buf.len - done < sizeof(programmed) ? buf.len - done : sizeof(programmed);
        for (size_t i = 0; i < n; ++i) {
            programmed[i] = current[done + i] & incoming[done + i];
        }
        ssize_t wrote = pwrite(romfs_fd, programmed, n, (off_t)((size_t)offset + done));
        if (wrote != (ssize_t)n) {
            return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
        }
        done += n;
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t cmd = mp_obj_get_int(args[0]);
    bool present = romfs_present();
    if (cmd == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(present ? 1 : 0);
    }
    if (!present || n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (cmd) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&romfs_segment);
        case MP_VFS_ROM_IOCTL_WRITE_PREPARE:
            if (n_args == 3) {
                return romfs_write_prepare(0, mp_obj_get_int(args[2]));
            }
            if (n_args == 4) {
                return romfs_write_prepare(mp_obj_get_int(args[2]), mp_obj_get_int(args[3]));
            }
            break;
        case MP_VFS_ROM_IOCTL_WRITE:
            if (n_args == 4) {
                return romfs_write(mp_obj_get_int(args[2]), args[3]);
            }
            break;
        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(fdatasync(romfs_fd) == 0 ? 0 : -MP_EIO);
        case ROMFS_IOCTL_GET_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(ROMFS_ERASE_BLOCK_BYTES);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}

#endif // MICROPY_VFS_ROM_IOCTL
