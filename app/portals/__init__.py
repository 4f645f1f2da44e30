def register_blueprints(app):
    from app.portals.auth import bp as auth_bp
    from app.portals.customer import bp as customer_bp
    from app.portals.partner import bp as partner_bp
    from app.portals.staff import bp as staff_bp
    from app.portals.tenant import bp as tenant_bp
    for blueprint in (auth_bp, customer_bp, partner_bp, staff_bp, tenant_bp):
        app.register_blueprint(blueprint)
