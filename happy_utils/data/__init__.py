"""Faces: the synthetic world (`world`), the container and its cache (`faces`), CelebA (`cropping`, `celeba`), and
`load_faces` (`sources`), the one door every later stage goes through."""
