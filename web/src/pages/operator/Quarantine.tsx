import { QuarantineReport } from '../../components/quarantine';
import { QuarantinedFrom } from '../../components/ui';

export default function QuarantinePage() {
  return (
    <QuarantineReport
      endpoint="/operator/quarantine"
      title="Quarantine"
      from={(e) => <QuarantinedFrom tenantId={e.tenant_id} deviceId={e.device_id} />}
    />
  );
}
