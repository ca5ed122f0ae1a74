"""recaug.fuse"""
