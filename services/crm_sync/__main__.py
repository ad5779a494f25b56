from libs.runtime.serve import serve

from .main import Settings, create_app

settings = Settings.load()
serve(create_app(settings), settings)
