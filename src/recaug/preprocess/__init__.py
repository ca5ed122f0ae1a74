"""recaug.preprocess"""
