"""recaug.pipeline"""
