// Package layers holds no code: its test keeps the tree's architecture true.
// The packages form layers (plumbing, the service core, the output contract,
// the sinks, the tools, cmd), and an import may only point to the same layer
// or a lower one. The README's Architecture section draws the same layers.
package layers
