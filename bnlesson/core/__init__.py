"""What every lesson stands on: sizes and seeds, the device, notebook set-up,
checks of plain arguments, and verified downloads. Imports no other layer."""
