// Package atomicfile replaces a file so that a crash at any moment leaves
// either its old or its new content: a temporary file in the same
// directory, fsync, rename over the path, fsync of the directory (without
// that last step the rename itself may not survive a power loss).
package atomicfile
