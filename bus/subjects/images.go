package subjects

// ImagesBucket is the JetStream Object Store bucket of images pushed with
// `skiff image push` (docs/images.md): each image is an OCI archive stored
// under its manifest digest ("sha256:..."), and each name:tag is a link to
// it.
const ImagesBucket = "images"
