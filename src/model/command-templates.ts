// Commands a tenant saves to send again (a label, a command name, its parameters): their SQL, under
// row-level security.
import type { TenantScope } from '../db/database.js';

export interface CommandTemplate {
  template_id: string;
  label: string;
  name: string;
  params: unknown;
  description: string | null;
  created_at: Date;
}

const COLUMNS = 'template_id, label, name, params, description, created_at';

export async function listTemplates(tx: TenantScope): Promise<CommandTemplate[]> {
  const { rows } = await tx.query<CommandTemplate>(
    `SELECT ${COLUMNS} FROM command_templates WHERE tenant_id = $1 ORDER BY label`,
    [tx.tenantId],
  );
  return rows;
}

export async function createTemplate(
  tx: TenantScope,
  template: Omit<CommandTemplate, 'template_id' | 'created_at'>,
): Promise<CommandTemplate> {
  const { rows } = await tx.query<CommandTemplate>(
    `INSERT INTO command_templates (tenant_id, label, name, params, description) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, label) DO UPDATE SET name = $3, params = $4, description = $5
     RETURNING ${COLUMNS}`,
    [tx.tenantId, template.label, template.name, JSON.stringify(template.params), template.description],
  );
  return rows[0]!;
}

export async function deleteTemplate(tx: TenantScope, templateId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM command_templates WHERE tenant_id = $1 AND template_id = $2`, [
    tx.tenantId,
    templateId,
  ]);
  return (rowCount ?? 0) > 0;
}
