"""recaug.data.io"""
