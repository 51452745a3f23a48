import { Link } from 'react-router';
import { QuarantineReport } from '../../components/quarantine';

/** What ingest refused of this tenant's devices, so firmware can be debugged without the operator. */
export default function CustomerQuarantine() {
  return (
    <QuarantineReport
      endpoint="/customer/quarantine"
      title="Rejected messages"
      from={(e) =>
        e.device_id ? (
          <Link className="text-indigo-600 hover:underline" to={`/devices/${encodeURIComponent(e.device_id)}`}>
            {e.device_id}
          </Link>
        ) : (
          '—'
        )
      }
    />
  );
}
