"""recaug.expand"""
